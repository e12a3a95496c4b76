import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ConntrackEntry, ConntrackTick } from '@tollgate/conntrack';
import { DeltaTracker } from './delta.ts';

const T = 1_700_000_000_000;
const H = 3_600_000;

function entry(id: number, sport: number, ob: number, rb: number, start = 0): ConntrackEntry {
  return {
    id,
    protocol: 6,
    family: 'IPV4',
    original: { src: '10.244.0.5', dst: '10.96.0.10', sport, dport: 80 },
    reply: { src: '10.244.1.7', dst: '10.244.0.5', sport: 8080, dport: sport },
    origBytes: ob,
    origPackets: Math.ceil(ob / 1000),
    replyBytes: rb,
    replyPackets: Math.ceil(rb / 1000),
    start,
  };
}
const tick = (h: number, dump: ConntrackEntry[], destroyed: Array<[number, ConntrackEntry]> = [], overruns?: number): ConntrackTick => ({
  time: T + h * H,
  dump,
  destroyed: destroyed.map(([m, e]) => ({ time: T + h * H - m, entry: e })),
  ...(overruns ? { overruns } : {}),
});
const deltas = (flows: ReturnType<DeltaTracker['apply']>) => flows.map((f) => [f.conntrack_id, f.original.sport, f.orig_bytes, f.reply_bytes, f.final]);

describe('DeltaTracker', () => {
  it('first dump only sets the baseline; later dumps emit growth of entries that grew', () => {
    const d = new DeltaTracker();
    assert.deepEqual(d.apply(tick(0, [entry(1, 40000, 5000, 90000), entry(2, 40001, 100, 200)], [[10, entry(9, 40009, 7, 7)]])), []);
    assert.equal(d.stats().baselineEntries, 2);
    assert.equal(d.stats().destroyedBeforeBaseline, 1);
    // entry 1 grew, entry 2 did not, entry 3 is new (all of it counts)
    const out = d.apply(tick(1, [entry(1, 40000, 6500, 95000), entry(2, 40001, 100, 200), entry(3, 40002, 300, 4000)]));
    assert.deepEqual(deltas(out), [
      [1, 40000, 1500, 5000, false],
      [3, 40002, 300, 4000, false],
    ]);
    assert.equal(out[0]!.orig_packets, 7 - 5);
    assert.equal(out[0]!.reply_packets, 95 - 90);
    assert.equal(out[0]!.flow_start, T, 'no kernel timestamp: first seen at the baseline');
    assert.equal(out[1]!.flow_start, T + H);
    // the same counters again: nothing
    assert.deepEqual(d.apply(tick(2, [entry(1, 40000, 6500, 95000), entry(2, 40001, 100, 200), entry(3, 40002, 300, 4000)])), []);
    assert.equal(d.stats().emitted, 2);
  });

  it('DESTROY emits the rest and forgets; short connections between polls are not lost', () => {
    const d = new DeltaTracker();
    d.apply(tick(0, [entry(1, 40000, 1000, 2000)]));
    d.apply(tick(1, [entry(1, 40000, 1500, 2600)]));
    const out = d.apply(
      tick(2, [], [
        [60_000, entry(1, 40000, 1800, 3000)],
        [30_000, entry(5, 40005, 250, 700)], // started and ended between two polls
      ]),
    );
    assert.deepEqual(deltas(out), [
      [1, 40000, 300, 400, true],
      [5, 40005, 250, 700, true],
    ]);
    assert.equal(d.stats().tracked, 0);
    assert.equal(d.stats().vanished, 0);
    assert.equal(d.stats().destroyed, 2);
    // a DESTROY with no growth since the last report emits nothing
    d.apply(tick(3, [entry(6, 40006, 100, 100)]));
    assert.deepEqual(d.apply(tick(4, [], [[1, entry(6, 40006, 100, 100)]])), []);
  });

  it('pre-existing bytes are never billed, also when the entry ends before the next poll', () => {
    const d = new DeltaTracker();
    d.apply(tick(0, [entry(1, 40000, 1_000_000, 9_000_000)]));
    assert.deepEqual(deltas(d.apply(tick(1, [], [[5, entry(1, 40000, 1_000_010, 9_000_020)]]))), [[1, 40000, 10, 20, true]]);
  });

  it('counters going backwards (id and tuple reused) restart from zero', () => {
    const d = new DeltaTracker();
    d.apply(tick(0, [entry(7, 41125, 50_000, 0)]));
    d.apply(tick(1, [entry(7, 41125, 60_000, 0)]));
    // the old connection expired (its DESTROY was lost) and a new one has the same id and tuple
    const out = d.apply(tick(2, [entry(7, 41125, 900, 0)], [], 1));
    assert.deepEqual(deltas(out), [[7, 41125, 900, 0, false]]);
    assert.equal(d.stats().restarted, 1);
    assert.equal(d.stats().overruns, 1);
    assert.deepEqual(deltas(d.apply(tick(3, [entry(7, 41125, 1000, 0)]))), [[7, 41125, 100, 0, false]]);
  });

  it('a changed start timestamp is a new connection even when counters did not go backwards', () => {
    const d = new DeltaTracker();
    d.apply(tick(0, [entry(7, 41125, 500, 500, T - 10 * H)]));
    const out = d.apply(tick(1, [entry(7, 41125, 800, 900, T + 30 * 60_000)]));
    assert.deepEqual(deltas(out), [[7, 41125, 800, 900, false]]);
    assert.equal(out[0]!.flow_start, T + 30 * 60_000);
    assert.equal(d.stats().restarted, 1);
  });

  it('same id with another original tuple is another entry', () => {
    const d = new DeltaTracker();
    d.apply(tick(0, [entry(7, 41125, 500, 500)]));
    const out = d.apply(tick(1, [entry(7, 41125, 600, 500), entry(7, 50000, 40, 60)]));
    assert.deepEqual(deltas(out), [
      [7, 41125, 100, 0, false],
      [7, 50000, 40, 60, false],
    ]);
  });

  it('entries gone from the dump without a DESTROY are forgotten and counted', () => {
    const d = new DeltaTracker();
    d.apply(tick(0, [entry(1, 40000, 10, 10), entry(2, 40001, 10, 10)]));
    assert.deepEqual(d.apply(tick(1, [entry(2, 40001, 10, 10)], [], 2)), []);
    const s = d.stats();
    assert.equal(s.vanished, 1);
    assert.equal(s.tracked, 1);
    assert.equal(s.overruns, 2);
    // if it comes back (same id and tuple) it is a new entry: all its counters count
    assert.deepEqual(deltas(d.apply(tick(2, [entry(1, 40000, 15, 12), entry(2, 40001, 10, 10)]))), [[1, 40000, 15, 12, false]]);
  });

  it('a DESTROY then the same key in the dump (id reused after a delivered DESTROY) counts both', () => {
    const d = new DeltaTracker();
    d.apply(tick(0, [entry(3, 40003, 100, 100)]));
    const out = d.apply(tick(1, [entry(3, 40003, 40, 50)], [[100, entry(3, 40003, 130, 170)]]));
    assert.deepEqual(deltas(out), [
      [3, 40003, 30, 70, true],
      [3, 40003, 40, 50, false],
    ]);
    assert.equal(d.stats().restarted, 0);
  });

  it('ignores a key listed twice in one dump', () => {
    const d = new DeltaTracker();
    d.apply(tick(0, [entry(1, 40000, 10, 10)]));
    assert.deepEqual(deltas(d.apply(tick(1, [entry(1, 40000, 20, 10), entry(1, 40000, 25, 10)]))), [[1, 40000, 10, 0, false]]);
    assert.equal(d.stats().duplicates, 1);
  });
});
