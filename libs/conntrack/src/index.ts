// Kernel conntrack for the agent: the entry shape, a byte-level scanner of conntrack-tools'
// text, a compact entry table and the delta tracker (DESIGN.md section 1).
import type { IpFamily, Tuple } from '@tollgate/schema';

export interface ConntrackEntry {
  id: number;
  protocol: number;
  family: IpFamily;
  original: Tuple;
  reply: Tuple;
  /** Cumulative counters since the entry was created. */
  origBytes: number;
  origPackets: number;
  replyBytes: number;
  replyPackets: number;
  /** When the entry started, ms since epoch (conntrack timestamp, if known; else 0). */
  start: number;
}

/** One DESTROY event: the entry's final counters. */
export interface ConntrackDestroy {
  time: number;
  entry: ConntrackEntry;
}

/** A replayed poll (the simulated cluster): DESTROY events since the last poll, then a full dump. */
export interface ConntrackTick {
  time: number;
  destroyed: ConntrackDestroy[];
  dump: ConntrackEntry[];
  /** Event overruns (ENOBUFS) since the last tick. */
  overruns?: number;
}

export { Scan, LineKind, EventType, scanLine, LineSplitter } from './scan.ts';
export { FlowTable } from './table.ts';
export { FlowTracker } from './tracker.ts';
export type { Delta, TrackerStats } from './tracker.ts';
export { rawFlowOf, formatEntry } from './format.ts';
