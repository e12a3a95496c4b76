// Deltas of one tick become RawFlowBatch messages of at most `maxFlows` flows each.
import type { RawFlow, RawFlowBatch } from '@tollgate/schema';

export interface BatchHeader {
  cluster: string;
  node: string;
  agent_id: string;
  window_start: number;
  window_end: number;
}

/** Splits `flows` into batches numbered from `seq`. */
export function toBatches(flows: RawFlow[], header: BatchHeader, maxFlows: number, seq: number): RawFlowBatch[] {
  if (!Number.isInteger(maxFlows) || maxFlows < 1) throw new RangeError(`batchMaxFlows must be a positive integer, got ${maxFlows}`);
  const out: RawFlowBatch[] = [];
  for (let i = 0; i < flows.length; i += maxFlows) {
    out.push({ ...header, seq: seq++, flows: flows.slice(i, i + maxFlows) });
  }
  return out;
}
