// Byte deltas from cumulative conntrack counters (DESIGN.md section 1), over scanned lines.
//
// - An entry is (conntrack id, hash of its original tuple + protocol + zone): ids are reused and,
//   being 32-bit hashes, collide among a million live entries; the start time is NOT identity
//   (delta-time has a resolution of a second and jitters between polls).
// - The first complete dump after start only sets the baseline.
// - A dump emits, for each entry whose counters grew, the growth since the last report; an entry
//   not seen before is new (after the baseline) and emits all of its counters.
// - A DESTROY event emits the rest (final counters minus the last report) and forgets the entry.
// - A byte counter that went backwards means a new connection under the same identity: from zero.
// - Dump and events race: a DESTROY read while a dump runs tombstones its entry for the rest of
//   that dump, so a stale dump line of it cannot bring it back (and bill it twice). An entry is
//   forgotten as `vanished` only when two dumps in a row missed it (its DESTROY may still be in
//   the pipe after the first).
// - Backpressure: when the caller cannot take a dump delta (`canEmit` false) the state is not
//   advanced, so the growth stays in the kernel's counter and the next dump reports it (deferred);
//   a DESTROY delta that cannot be taken is lost and counted (flows and bytes), never silently.
import { EventType, type Scan } from './scan.ts';
import { FlowTable } from './table.ts';

export interface Delta {
  origBytes: number;
  origPackets: number;
  replyBytes: number;
  replyPackets: number;
  flowStart: number;
  final: boolean;
}

export interface TrackerStats {
  dumps: number;
  /** Entries of the baseline dump (their bytes so far are not billed). */
  baselineEntries: number;
  /** Entries currently tracked. */
  tracked: number;
  /** Delta records emitted. */
  emitted: number;
  /** DESTROY events applied after the baseline. */
  destroyed: number;
  /** DESTROY events of entries unknown before the baseline was set (ignored). */
  destroyedBeforeBaseline: number;
  /** Entries missing from two dumps in a row without a DESTROY (their last growth is unknown). */
  vanished: number;
  /** Entries whose counters went backwards: restarted from zero. */
  restarted: number;
  /** Entries listed twice in one dump (the second is ignored). */
  duplicates: number;
  /** Dump lines of entries already destroyed during that dump (ignored: the DESTROY billed them). */
  raced: number;
  /** Dump deltas not taken (backpressure): left in the kernel counters for the next dump. */
  deferred: number;
  /** DESTROY deltas that could not be taken, and their bytes (orig + reply). */
  lostFlows: number;
  lostBytes: number;
}

export class FlowTracker {
  private readonly table = new FlowTable();
  private gen = 0;
  private baselined = false;
  private inDump = false;
  private readonly tombstones = new Set<string>();
  private readonly s: TrackerStats = {
    dumps: 0,
    baselineEntries: 0,
    tracked: 0,
    emitted: 0,
    destroyed: 0,
    destroyedBeforeBaseline: 0,
    vanished: 0,
    restarted: 0,
    duplicates: 0,
    raced: 0,
    deferred: 0,
    lostFlows: 0,
    lostBytes: 0,
  };

  get hasBaseline(): boolean {
    return this.baselined;
  }

  get tracked(): number {
    return this.table.size;
  }

  get memoryBytes(): number {
    return this.table.memoryBytes;
  }

  stats(): TrackerStats {
    return { ...this.s, tracked: this.table.size };
  }

  beginDump(): void {
    this.gen++;
    this.tombstones.clear();
    this.inDump = true;
  }

  /** A dump line. Fills `out` and returns true when there is a delta to ship. */
  dump(e: Scan, time: number, canEmit: boolean, out: Delta): boolean {
    const t = this.table;
    if (this.tombstones.size > 0 && this.tombstones.has(`${e.id}:${e.hash}`)) {
      this.s.raced++;
      return false;
    }
    const gen = this.gen & 0xffff;
    let i = t.find(e.id, e.hash);
    let fresh = false;
    if (i < 0) {
      i = t.insert(e.id, e.hash, gen, startOf(e, time));
      if (!this.baselined) {
        t.setCounters(i, e.origBytes, e.origPackets, e.replyBytes, e.replyPackets);
        return false;
      }
      fresh = true;
    } else if (t.seen(i) === gen) {
      this.s.duplicates++;
      return false;
    } else {
      t.setSeen(i, gen);
      if (!this.baselined) {
        // an entry listed in an aborted baseline dump: still baseline
        t.setCounters(i, e.origBytes, e.origPackets, e.replyBytes, e.replyPackets);
        return false;
      }
    }
    let ob = t.origBytes(i);
    let rb = t.replyBytes(i);
    if (e.origBytes < ob || e.replyBytes < rb) {
      this.s.restarted++;
      ob = rb = 0;
      fresh = true;
      t.setCounters(i, 0, 0, 0, 0);
      t.setFlowStart(i, startOf(e, time));
    }
    const dop = fresh ? e.origPackets : ((e.origPackets >>> 0) - t.origPackets(i)) >>> 0;
    const drp = fresh ? e.replyPackets : ((e.replyPackets >>> 0) - t.replyPackets(i)) >>> 0;
    const dob = e.origBytes - ob;
    const drb = e.replyBytes - rb;
    if (dob === 0 && drb === 0 && dop === 0 && drp === 0) return false;
    if (!canEmit) {
      this.s.deferred++;
      return false;
    }
    out.origBytes = dob;
    out.origPackets = dop;
    out.replyBytes = drb;
    out.replyPackets = drp;
    out.flowStart = t.flowStart(i);
    out.final = false;
    t.setCounters(i, e.origBytes, e.origPackets, e.replyBytes, e.replyPackets);
    this.s.emitted++;
    return true;
  }

  /** A DESTROY event line (time: the event's). Fills `out` and returns true when there is a delta. */
  destroy(e: Scan, time: number, canEmit: boolean, out: Delta): boolean {
    if (e.event !== EventType.Destroy) return false;
    const t = this.table;
    if (this.inDump) this.tombstones.add(`${e.id}:${e.hash}`);
    const i = t.find(e.id, e.hash);
    let ob = 0;
    let rb = 0;
    let op = 0;
    let rp = 0;
    let fresh = true;
    let flowStart: number;
    if (i < 0) {
      if (!this.baselined) {
        this.s.destroyedBeforeBaseline++;
        return false;
      }
      flowStart = startOf(e, time);
    } else {
      ob = t.origBytes(i);
      rb = t.replyBytes(i);
      op = t.origPackets(i);
      rp = t.replyPackets(i);
      flowStart = t.flowStart(i);
      t.remove(i);
      fresh = false;
      if (e.origBytes < ob || e.replyBytes < rb) {
        this.s.restarted++;
        ob = rb = 0;
        fresh = true;
        flowStart = startOf(e, time);
      }
    }
    this.s.destroyed++;
    const dop = fresh ? e.origPackets : ((e.origPackets >>> 0) - op) >>> 0;
    const drp = fresh ? e.replyPackets : ((e.replyPackets >>> 0) - rp) >>> 0;
    const dob = e.origBytes - ob;
    const drb = e.replyBytes - rb;
    if (dob === 0 && drb === 0 && dop === 0 && drp === 0) return false;
    if (!canEmit) {
      this.s.lostFlows++;
      this.s.lostBytes += dob + drb;
      return false;
    }
    out.origBytes = dob;
    out.origPackets = dop;
    out.replyBytes = drb;
    out.replyPackets = drp;
    out.flowStart = flowStart;
    out.final = true;
    this.s.emitted++;
    return true;
  }

  /** A complete dump: the baseline is set; entries missed by this dump and the one before are forgotten. */
  endDump(): void {
    this.inDump = false;
    this.s.dumps++;
    if (!this.baselined) {
      this.baselined = true;
      this.s.baselineEntries = this.table.size;
    }
    const t = this.table;
    const gen = this.gen & 0xffff;
    for (let i = t.size - 1; i >= 0; i--) {
      if (((gen - t.seen(i)) & 0xffff) >= 2) {
        t.remove(i);
        this.s.vanished++;
      }
    }
  }

  /** A dump that failed midway: nothing is forgotten (its misses mean nothing). */
  abortDump(): void {
    this.inDump = false;
  }
}

function startOf(e: Scan, time: number): number {
  // delta-time: seconds since the entry started, read once when the entry is first seen
  const at = e.time >= 0 ? e.time : time;
  return e.deltaTime >= 0 ? at - e.deltaTime * 1000 : at;
}
