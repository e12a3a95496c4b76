// Batches an agent sent twice. An agent keeps its acknowledged position across a crash
// (services/agent state.ts): after a SIGKILL it sends again, identical and under the same
// (agent_id, seq), the batch that was in flight. The enricher turns each copy into its own
// flows.enriched.v1 message (same `source`, other offsets), so the sink keeps the first: per
// partition, in offset order, a message whose (agent_id, seq) was already stored is a second copy
// and is dropped. An agent's messages stay in one partition (the raw and the enriched topics are
// keyed by node).
//
// The rule is "this exact seq was stored", not "a seq at or below the highest one stored": copies
// do not always arrive in seq order. An at-least-once enricher that loses a partition while it
// produces (a rebalance), and the one that takes it over from the committed offset, may interleave
// their sends: the partition can read 20..25 (the old owner's batch), then 18..25 (the new
// owner's), and a "highest seq" rule would drop 18 and 19, which were never stored. The seqs of an
// agent are kept for a window of RESEND_WINDOW below its highest stored seq; an older seq is taken
// for a copy (a batch that late is not a first copy in this design: the agent sends in order and
// holds at most its buffer).
//
// The decision is a function of what precedes a message in its partition, so it repeats after any
// crash: on (re)assignment the positions are rebuilt from the stored rows before the offset the sink
// resumes at (flows.src_agent_id / src_seq / src_offset), and a re-read of an interrupted chunk
// drops exactly what its first reading dropped. Only messages with rows count (as the rebuilt
// positions see it); a batch with no flows leaves no row, and a copy of it carries no bytes either.
import type { Store } from './store.ts';

/** Seqs of an agent remembered below its highest stored one; an older seq is a copy. */
export const RESEND_WINDOW = 10_000;

interface Seen {
  max: number;
  seqs: Set<number>;
}

export class AgentPositions {
  private readonly agents = new Map<string, Seen>();

  /** From stored (agent_id, seq) pairs. */
  constructor(initial: Iterable<readonly [string, number]> = []) {
    for (const [a, s] of initial) this.advance(a, s);
  }

  /** True if a message of `agentId` with `seq` is a second copy (drop it). */
  isResend(agentId: string, seq: number): boolean {
    if (agentId === '') return false;
    const e = this.agents.get(agentId);
    return e !== undefined && (seq <= e.max - RESEND_WINDOW || e.seqs.has(seq));
  }

  /**
   * Records a message that is stored (it has rows). Messages without rows do not count: the
   * positions rebuilt after a crash come from stored rows, and a poison message whose records were
   * all refused cannot mark its seq.
   */
  advance(agentId: string, seq: number): void {
    if (agentId === '') return;
    let e = this.agents.get(agentId);
    if (!e) this.agents.set(agentId, (e = { max: seq, seqs: new Set() }));
    e.seqs.add(seq);
    if (seq > e.max) e.max = seq;
    // Forgetting what the window already calls a copy changes no decision.
    if (e.seqs.size > 2 * RESEND_WINDOW) for (const s of e.seqs) if (s <= e.max - RESEND_WINDOW) e.seqs.delete(s);
  }

  /** isResend, then advance: true if the message is a second copy. */
  resend(agentId: string, seq: number): boolean {
    if (this.isResend(agentId, seq)) return true;
    this.advance(agentId, seq);
    return false;
  }

  /** A draft over these positions, for a handler call: it advances alone and is absorbed only if the call stored. */
  draft(): PositionsDraft {
    return new PositionsDraft(this);
  }

  /** Adds what `other` marked (union). */
  absorb(other: AgentPositions | undefined): this {
    if (other) for (const [a, e] of other.agents) for (const s of e.seqs) this.advance(a, s);
    return this;
  }

  /**
   * These positions joined with `other`'s: what the rows say and what this instance itself passed
   * (a re-assignment to the same sink: the consumer resumes after what it handled, so what it
   * passed is not delivered again and must still count). The operands are left alone.
   */
  merged(other: AgentPositions | undefined): AgentPositions {
    return new AgentPositions().absorb(this).absorb(other);
  }

  /** Agents known. */
  get size(): number {
    return this.agents.size;
  }
}

/** Positions advanced during one handler call, over a base they leave alone. */
export class PositionsDraft {
  readonly added = new AgentPositions();
  private readonly base: AgentPositions;

  constructor(base: AgentPositions) {
    this.base = base;
  }

  isResend(agentId: string, seq: number): boolean {
    return this.base.isResend(agentId, seq) || this.added.isResend(agentId, seq);
  }

  advance(agentId: string, seq: number): void {
    this.added.advance(agentId, seq);
  }

  resend(agentId: string, seq: number): boolean {
    if (this.isResend(agentId, seq)) return true;
    this.advance(agentId, seq);
    return false;
  }
}

/** Positions of the agents from the rows stored in `topic/partition` before `beforeOffset`. */
export async function loadAgentPositions(store: Pick<Store, 'client' | 'database'>, topic: string, partition: number, beforeOffset: number): Promise<AgentPositions> {
  const rs = await store.client.query({
    query: `SELECT a, arrayMap(x -> toString(x), arrayFilter(x -> x + {window:UInt64} > m, seqs)) AS seqs
            FROM (SELECT src_agent_id AS a, max(src_seq) AS m, groupUniqArray(src_seq) AS seqs FROM ${store.database}.flows
                  WHERE src_topic = {topic:String} AND src_partition = {partition:UInt32} AND src_offset < {before:UInt64} AND src_agent_id != ''
                  GROUP BY a)`,
    query_params: { topic, partition, before: beforeOffset, window: RESEND_WINDOW },
    format: 'JSONEachRow',
  });
  const rows = await rs.json<{ a: string; seqs: string[] }>();
  return new AgentPositions(rows.flatMap((r) => r.seqs.map((s) => [r.a, Number(s)] as const)));
}
