// What the sink checks in every decoded flows.enriched.v1 message before storing it. A bad
// record goes to the DLQ (with the message, its index and the reason) and the rest of the
// message is stored; a bad message as a whole (window, size) goes to the DLQ. Every check is
// a pure function of the message, so a re-read after a crash decides the same way.
import { isIP } from 'node:net';
import type { EnrichedFlow, EnrichedFlowBatch } from '@tollgate/schema';

/** 2000-01-01 and 2100-01-01 (ms): times outside are not real flows. */
const MIN_TIME = 946_684_800_000;
const MAX_TIME = 4_102_444_800_000;
const MAX_WINDOW_MS = 31 * 86_400_000;
const U32 = 2 ** 32 - 1;

export interface Validated {
  /** The message with only its valid flows (the same object when all are valid). */
  batch: EnrichedFlowBatch;
  /** Invalid flows: index in the message and reason. */
  bad: Array<{ index: number; reason: string }>;
}

const count = (v: number) => Number.isSafeInteger(v) && v >= 0;

function ipOk(s: string): boolean {
  if (s === '') return true; // unknown address: stored as '::'
  const zone = s.indexOf('%');
  return isIP(zone < 0 ? s : s.slice(0, zone)) !== 0;
}

function flowProblem(b: EnrichedFlowBatch, f: EnrichedFlow): string | undefined {
  const n = b.endpoints.length;
  if (!Number.isInteger(f.local) || f.local < 0 || f.local >= n) return `local endpoint index ${f.local} outside the message's ${n}`;
  if (!Number.isInteger(f.remote) || f.remote < 0 || f.remote >= n) return `remote endpoint index ${f.remote} outside the message's ${n}`;
  for (const k of ['egress_bytes', 'ingress_bytes', 'egress_packets', 'ingress_packets', 'conntrack_id'] as const) {
    if (!count(f[k])) return `${k} ${f[k]} is not a counter (0..2^53)`;
  }
  if (!Number.isInteger(f.protocol) || f.protocol < 0 || f.protocol > 255) return `protocol ${f.protocol} outside 0..255`;
  if (!Number.isInteger(f.local_port) || f.local_port < 0 || f.local_port > 65_535) return `local_port ${f.local_port} outside 0..65535`;
  if (!Number.isInteger(f.remote_port) || f.remote_port < 0 || f.remote_port > 65_535) return `remote_port ${f.remote_port} outside 0..65535`;
  if (!ipOk(f.local_ip)) return `local_ip ${JSON.stringify(f.local_ip.slice(0, 60))} is not an address`;
  if (!ipOk(f.remote_ip)) return `remote_ip ${JSON.stringify(f.remote_ip.slice(0, 60))} is not an address`;
  if (!Number.isSafeInteger(f.time) || f.time < b.window_start || f.time > b.window_end) return `time ${f.time} outside the message's window ${b.window_start}..${b.window_end}`;
  const r = b.endpoints[f.remote]!;
  if (!Number.isInteger(r.asn) || r.asn < 0 || r.asn > U32) return `remote asn ${r.asn} outside 0..2^32-1`;
  return undefined;
}

/** Throws (a message-level problem) or returns the valid part of the message. */
export function validateEnriched(b: EnrichedFlowBatch, maxFlows: number): Validated {
  if (!Number.isSafeInteger(b.window_start) || !Number.isSafeInteger(b.window_end) || b.window_start < MIN_TIME || b.window_end > MAX_TIME || b.window_end < b.window_start) {
    throw new Error(`window ${b.window_start}..${b.window_end} is not a time window between 2000 and 2100`);
  }
  if (b.window_end - b.window_start > MAX_WINDOW_MS) throw new Error(`window of ${b.window_end - b.window_start} ms is longer than 31 days`);
  if (b.flows.length > maxFlows) throw new Error(`${b.flows.length} flows in one message, above the ${maxFlows} a chunk holds`);
  if (b.endpoints.length > 2 * b.flows.length + 2) throw new Error(`${b.endpoints.length} endpoints for ${b.flows.length} flows`);
  const bad: Validated['bad'] = [];
  let good: EnrichedFlow[] | undefined;
  for (let i = 0; i < b.flows.length; i++) {
    const f = b.flows[i]!;
    const problem = flowProblem(b, f);
    if (problem === undefined) {
      good?.push(f);
      continue;
    }
    if (!good) good = b.flows.slice(0, i);
    bad.push({ index: i, reason: problem });
  }
  return { batch: good ? { ...b, flows: good } : b, bad };
}
