// Conntrack counters are cumulative per entry; Tollgate ships deltas (DESIGN.md section 1).
// DeltaTracker is pure: ticks in, RawFlow deltas out.
//
// - An entry is identified by its conntrack id AND its original tuple (ids are reused).
// - The first tick only sets the baseline: bytes counted before the agent ran are not billed.
// - DESTROY events (final counters) emit what grew since the last report and forget the entry,
//   so a connection that starts and ends between two polls is not lost.
// - Each later dump emits, for every entry that grew, the growth since the last report; an
//   entry not seen before is new and emits all of its counters.
// - A counter that went backwards (or a changed start timestamp) means the id and tuple were
//   reused for a new connection: it restarts from zero.
// - Entries missing from a dump without a DESTROY (lost events) are forgotten and counted.
import type { ConntrackEntry, ConntrackTick } from '@tollgate/conntrack';
import type { RawFlow } from '@tollgate/schema';

interface State {
  ob: number;
  op: number;
  rb: number;
  rp: number;
  /** Start timestamp as the kernel reported it (0 if unknown). */
  start: number;
  /** flow_start of the records: the kernel's start, or when the agent first saw the entry. */
  flowStart: number;
  /** Tick in which the entry was last seen. */
  gen: number;
}

export interface DeltaStats {
  ticks: number;
  /** Entries of the first dump (their bytes so far are not billed). */
  baselineEntries: number;
  /** Entries currently tracked. */
  tracked: number;
  /** Delta records emitted. */
  emitted: number;
  /** DESTROY events processed (after the baseline). */
  destroyed: number;
  /** DESTROY events before the baseline (ignored: their earlier bytes are unknown). */
  destroyedBeforeBaseline: number;
  /** Entries that disappeared from the dump without a DESTROY event. */
  vanished: number;
  /** Entries whose counters went backwards (id and tuple reused): restarted from zero. */
  restarted: number;
  /** Event overruns reported by the source. */
  overruns: number;
  /** Entries listed twice in one dump (the second is ignored). */
  duplicates: number;
}

export function entryKey(e: ConntrackEntry): string {
  const o = e.original;
  return `${e.id}|${e.protocol}|${o.src}|${o.sport}|${o.dst}|${o.dport}`;
}

export class DeltaTracker {
  private readonly live = new Map<string, State>();
  private gen = 0;
  private baselined = false;
  private readonly s: DeltaStats = {
    ticks: 0,
    baselineEntries: 0,
    tracked: 0,
    emitted: 0,
    destroyed: 0,
    destroyedBeforeBaseline: 0,
    vanished: 0,
    restarted: 0,
    overruns: 0,
    duplicates: 0,
  };

  /** True once the first dump set the baseline. */
  get hasBaseline(): boolean {
    return this.baselined;
  }

  stats(): DeltaStats {
    return { ...this.s, tracked: this.live.size };
  }

  /** Processes one tick: its DESTROY events, then its dump. Returns the deltas to ship. */
  apply(tick: ConntrackTick): RawFlow[] {
    const gen = ++this.gen;
    this.s.ticks++;
    this.s.overruns += tick.overruns ?? 0;
    if (!this.baselined) {
      this.s.destroyedBeforeBaseline += tick.destroyed.length;
      for (const e of tick.dump) {
        const k = entryKey(e);
        if (this.live.has(k)) {
          this.s.duplicates++;
          continue;
        }
        this.live.set(k, stateOf(e, tick.time, gen));
      }
      this.s.baselineEntries = this.live.size;
      this.baselined = true;
      return [];
    }
    const out: RawFlow[] = [];
    for (const d of tick.destroyed) {
      const k = entryKey(d.entry);
      const prev = this.live.get(k);
      this.s.destroyed++;
      if (prev) this.live.delete(k);
      this.emit(out, d.entry, prev, d.time, true);
    }
    for (const e of tick.dump) {
      const k = entryKey(e);
      const prev = this.live.get(k);
      if (prev && prev.gen === gen) {
        this.s.duplicates++;
        continue;
      }
      const next = this.emit(out, e, prev, tick.time, false);
      if (prev) {
        prev.ob = next.ob;
        prev.op = next.op;
        prev.rb = next.rb;
        prev.rp = next.rp;
        prev.start = next.start;
        prev.flowStart = next.flowStart;
        prev.gen = gen;
      } else {
        next.gen = gen;
        this.live.set(k, next);
      }
    }
    for (const [k, st] of this.live) {
      if (st.gen !== gen) {
        this.live.delete(k);
        this.s.vanished++;
      }
    }
    return out;
  }

  /** Emits the growth of `e` over `prev` (all of it when new or restarted); returns the new reported state. */
  private emit(out: RawFlow[], e: ConntrackEntry, prev: State | undefined, time: number, final: boolean): State {
    let base = prev;
    if (base && (e.origBytes < base.ob || e.replyBytes < base.rb || e.origPackets < base.op || e.replyPackets < base.rp || (e.start !== 0 && base.start !== 0 && e.start !== base.start))) {
      this.s.restarted++;
      base = undefined;
    }
    const next = base ? { ...base, ob: e.origBytes, op: e.origPackets, rb: e.replyBytes, rp: e.replyPackets } : stateOf(e, time, 0);
    const ob = e.origBytes - (base?.ob ?? 0);
    const op = e.origPackets - (base?.op ?? 0);
    const rb = e.replyBytes - (base?.rb ?? 0);
    const rp = e.replyPackets - (base?.rp ?? 0);
    if (ob > 0 || op > 0 || rb > 0 || rp > 0) {
      this.s.emitted++;
      out.push({
        conntrack_id: e.id,
        protocol: e.protocol,
        family: e.family,
        original: e.original,
        reply: e.reply,
        orig_bytes: ob,
        orig_packets: op,
        reply_bytes: rb,
        reply_packets: rp,
        flow_start: next.flowStart,
        final,
      });
    }
    return next;
  }
}

function stateOf(e: ConntrackEntry, time: number, gen: number): State {
  return { ob: e.origBytes, op: e.origPackets, rb: e.replyBytes, rp: e.replyPackets, start: e.start, flowStart: e.start || time, gen };
}
