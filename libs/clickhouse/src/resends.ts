// Batches an agent sent twice. An agent keeps its acknowledged position across a crash
// (services/agent state.ts): after a SIGKILL it sends again, identical and under the same
// (agent_id, seq), the batch that was in flight. The enricher turns each copy into its own
// flows.enriched.v1 message (same `source`, other offsets), so the sink keeps the first: per
// partition, in offset order, a message whose (agent_id, seq) is not above the highest seq already
// passed for that agent is a resend and is dropped. An agent's messages stay in one partition (the
// raw and the enriched topics are keyed by node) and its seqs only grow, except for resends.
//
// The decision is a function of what precedes a message in its partition, so it repeats after any
// crash: on (re)assignment the positions are rebuilt from the stored rows before the offset the sink
// resumes at (flows.src_agent_id / src_seq / src_offset), and a re-read of an interrupted chunk
// drops exactly what its first reading dropped. Only messages with rows advance a position (as the
// rebuilt positions see it); a batch with no flows leaves no row, and a resend of it carries no
// bytes either.
import type { Store } from './store.ts';

export class AgentPositions {
  private readonly seqs = new Map<string, number>();

  constructor(initial: Iterable<[string, number]> = []) {
    for (const [a, s] of initial) this.seqs.set(a, s);
  }

  /** True if a message of `agentId` with `seq` is a second copy (drop it). */
  isResend(agentId: string, seq: number): boolean {
    if (agentId === '') return false;
    const max = this.seqs.get(agentId);
    return max !== undefined && seq <= max;
  }

  /**
   * Records a message that is stored (it has rows). Messages without rows do not count: the
   * positions rebuilt after a crash come from stored rows, and a poison message whose records were
   * all refused cannot move an agent's position.
   */
  advance(agentId: string, seq: number): void {
    if (agentId === '') return;
    if ((this.seqs.get(agentId) ?? -1) < seq) this.seqs.set(agentId, seq);
  }

  /** isResend, then advance: true if the message is a second copy. */
  resend(agentId: string, seq: number): boolean {
    if (this.isResend(agentId, seq)) return true;
    this.advance(agentId, seq);
    return false;
  }

  /** A copy, to advance while a handler call runs and keep only if it stores. */
  copy(): AgentPositions {
    return new AgentPositions(this.seqs);
  }

  /**
   * These positions raised to `other`'s (per agent, the higher seq): what the rows say and what
   * this instance itself passed (a re-assignment to the same sink: the consumer resumes after
   * what it handled, so what it passed is not delivered again and must still count).
   */
  merged(other: AgentPositions | undefined): AgentPositions {
    const out = this.copy();
    if (other) for (const [a, s] of other.seqs) out.advance(a, s);
    return out;
  }

  get size(): number {
    return this.seqs.size;
  }
}

/** Positions of the agents from the rows stored in `topic/partition` before `beforeOffset`. */
export async function loadAgentPositions(store: Pick<Store, 'client' | 'database'>, topic: string, partition: number, beforeOffset: number): Promise<AgentPositions> {
  const rs = await store.client.query({
    query: `SELECT src_agent_id AS a, toString(max(src_seq)) AS s FROM ${store.database}.flows
            WHERE src_topic = {topic:String} AND src_partition = {partition:UInt32} AND src_offset < {before:UInt64} AND src_agent_id != ''
            GROUP BY a`,
    query_params: { topic, partition, before: beforeOffset },
    format: 'JSONEachRow',
  });
  const rows = await rs.json<{ a: string; s: string }>();
  return new AgentPositions(rows.map((r) => [r.a, Number(r.s)]));
}
