// The agent's acknowledged position, in a small JSON file (TOLLGATE_AGENT_STATE_DIR), so a
// restarted agent (even after SIGKILL) keeps its agent_id and its batch sequence:
// - replay source (simulated cluster): the replay is deterministic (same ticks, same batch cuts,
//   same seq), so the restarted agent cuts every batch again and sends only those after the last
//   acknowledged seq: nothing acknowledged is sent twice, nothing unacknowledged is skipped;
// - kernel source: agent_id and seq continue; the entry counters are not persisted, so the
//   restarted agent's first dump is a new baseline (README "Limits").
// The file is written after acknowledgements (temporary file + rename: never half written). A
// crash between an acknowledgement and the write leaves the file one write behind: those batches
// are sent again with the same (agent_id, seq), which identifies them for a consumer that dedupes.
import { readFileSync, renameSync, writeFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';

export interface AgentState {
  version: 1;
  agentId: string;
  node: string;
  source: 'kernel' | 'replay';
  batchMaxFlows: number;
  /** Highest batch seq acknowledged by the output (in order), -1 for none. */
  ackedSeq: number;
}

export function readState(path: string): AgentState | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  const s = JSON.parse(text) as AgentState;
  if (s.version !== 1 || typeof s.agentId !== 'string' || !Number.isInteger(s.ackedSeq)) throw new Error(`agent state ${path}: not a version 1 state file`);
  return s;
}

export class StateWriter {
  private readonly path: string;
  private state: AgentState;
  private written = -2;

  constructor(path: string, state: AgentState) {
    this.path = path;
    this.state = { ...state };
    mkdirSync(dirname(path), { recursive: true });
  }

  get ackedSeq(): number {
    return this.state.ackedSeq;
  }

  acked(seq: number): void {
    if (seq > this.state.ackedSeq) this.state = { ...this.state, ackedSeq: seq };
    this.write();
  }

  /** Writes the state if it changed (synchronously: a few hundred bytes, after an acknowledgement). */
  write(): void {
    if (this.written === this.state.ackedSeq) return;
    const tmp = `${this.path}.tmp`;
    writeFileSync(tmp, JSON.stringify(this.state));
    renameSync(tmp, this.path);
    this.written = this.state.ackedSeq;
  }
}
