// What the enricher checks in every decoded flows.raw.v1 message before enriching it (the
// consume-transform-produce loop, component.ts). A bad record goes to the raw topic's DLQ (the
// message, with its index and the reason) and the rest of the message is enriched; a bad
// message as a whole goes to the DLQ. Pure functions of the message: a re-read decides the same.
import { isIP } from 'node:net';
import type { RawFlow, RawFlowBatch } from '@tollgate/schema';

const MAX_TIME = 4_102_444_800_000; // 2100-01-01
const MAX_WINDOW_MS = 31 * 86_400_000;
/** More flows than any conntrack table holds in one message is not a real batch. */
export const MAX_RAW_FLOWS = 100_000;

export interface ValidatedRaw {
  batch: RawFlowBatch;
  bad: Array<{ index: number; reason: string }>;
}

const counter = (v: number) => Number.isSafeInteger(v) && v >= 0;
const port = (v: number) => Number.isInteger(v) && v >= 0 && v <= 65_535;

function address(s: string): boolean {
  const zone = s.indexOf('%');
  return isIP(zone < 0 ? s : s.slice(0, zone)) !== 0;
}

function flowProblem(f: RawFlow): string | undefined {
  for (const k of ['orig_bytes', 'orig_packets', 'reply_bytes', 'reply_packets', 'conntrack_id'] as const) {
    if (!counter(f[k])) return `${k} ${f[k]} is not a counter (0..2^53)`;
  }
  if (!Number.isInteger(f.protocol) || f.protocol < 0 || f.protocol > 255) return `protocol ${f.protocol} outside 0..255`;
  for (const side of ['original', 'reply'] as const) {
    const t = f[side];
    if (!address(t.src)) return `${side}.src ${JSON.stringify(t.src.slice(0, 60))} is not an address`;
    if (!address(t.dst)) return `${side}.dst ${JSON.stringify(t.dst.slice(0, 60))} is not an address`;
    if (!port(t.sport) || !port(t.dport)) return `${side} ports ${t.sport}/${t.dport} outside 0..65535`;
  }
  if (!Number.isSafeInteger(f.flow_start) || f.flow_start < 0 || f.flow_start > MAX_TIME) return `flow_start ${f.flow_start} is not a time before 2100`;
  return undefined;
}

/** Throws (a message-level problem) or returns the valid part of the message. */
export function validateRaw(b: RawFlowBatch): ValidatedRaw {
  if (!Number.isSafeInteger(b.window_start) || !Number.isSafeInteger(b.window_end) || b.window_start < 0 || b.window_end > MAX_TIME || b.window_end < b.window_start) {
    throw new Error(`window ${b.window_start}..${b.window_end} is not a time window before 2100 (the sink stores 2000..2100)`);
  }
  if (b.window_end - b.window_start > MAX_WINDOW_MS) throw new Error(`window of ${b.window_end - b.window_start} ms is longer than 31 days`);
  if (b.flows.length > MAX_RAW_FLOWS) throw new Error(`${b.flows.length} flows in one message (at most ${MAX_RAW_FLOWS})`);
  if (!Number.isSafeInteger(b.seq) || b.seq < 0) throw new Error(`seq ${b.seq} is not a sequence number`);
  const bad: ValidatedRaw['bad'] = [];
  let good: RawFlow[] | undefined;
  for (let i = 0; i < b.flows.length; i++) {
    const problem = flowProblem(b.flows[i]!);
    if (problem === undefined) {
      good?.push(b.flows[i]!);
      continue;
    }
    if (!good) good = b.flows.slice(0, i);
    bad.push({ index: i, reason: problem });
  }
  return { batch: good ? { ...b, flows: good } : b, bad };
}
