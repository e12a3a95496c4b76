// A conntrack entry as the agent reads it (`conntrack -L -o extended,id`, or the simulated
// cluster): cumulative counters, both tuples. The agent turns these into deltas.
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

/** What a source hands the agent per poll: DESTROY events since the last poll, then a full dump. */
export interface ConntrackTick {
  time: number;
  destroyed: ConntrackDestroy[];
  dump: ConntrackEntry[];
  /** Event overruns (ENOBUFS) since the last tick: the agent counts them and trusts the full dump. */
  overruns?: number;
}
