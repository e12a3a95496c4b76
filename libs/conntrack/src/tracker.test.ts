import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ConntrackEntry } from './index.ts';
import { formatEntry } from './format.ts';
import { LineKind, Scan, scanLine } from './scan.ts';
import { FlowTable } from './table.ts';
import { type Delta, FlowTracker } from './tracker.ts';

const entry = (id: number, sport: number, ob: number, rb: number, extra: Partial<ConntrackEntry> = {}): ConntrackEntry => ({
  id,
  protocol: 6,
  family: 'IPV4',
  original: { src: '10.244.1.2', dst: '10.96.0.10', sport, dport: 80 },
  reply: { src: '10.244.2.2', dst: '10.244.1.2', sport: 8080, dport: sport },
  origBytes: ob,
  origPackets: Math.ceil(ob / 100),
  replyBytes: rb,
  replyPackets: Math.ceil(rb / 100),
  start: 0,
  ...extra,
});

interface Out {
  id: number;
  ob: number;
  rb: number;
  final: boolean;
  start: number;
}

/** Drives a tracker with text lines, as the agent does. */
class Driver {
  readonly t = new FlowTracker();
  readonly out: Out[] = [];
  private readonly s = new Scan();
  private readonly d: Delta = { origBytes: 0, origPackets: 0, replyBytes: 0, replyPackets: 0, flowStart: 0, final: false };
  canEmit = true;
  private feed(line: string, f: (s: Scan) => boolean): void {
    const b = Buffer.from(line);
    assert.equal(scanLine(b, 0, b.length, this.s), LineKind.Entry, line);
    if (f(this.s)) this.out.push({ id: this.s.id, ob: this.d.origBytes, rb: this.d.replyBytes, final: this.d.final, start: this.d.flowStart });
  }
  dump(time: number, entries: ConntrackEntry[], opts: { abort?: boolean; now?: number; zone?: number } = {}): Out[] {
    const n = this.out.length;
    this.t.beginDump();
    for (const e of entries) this.feed(formatEntry(e, { now: opts.now ?? time, zone: opts.zone }), (s) => this.t.dump(s, time, this.canEmit, this.d));
    if (opts.abort) this.t.abortDump();
    else this.t.endDump();
    return this.out.slice(n);
  }
  /** A dump with DESTROY events read in the middle of it. */
  dumpWith(time: number, before: ConntrackEntry[], destroyed: ConntrackEntry[], after: ConntrackEntry[]): Out[] {
    const n = this.out.length;
    this.t.beginDump();
    for (const e of before) this.feed(formatEntry(e, { now: time }), (s) => this.t.dump(s, time, this.canEmit, this.d));
    for (const e of destroyed) this.feed(formatEntry(e, { event: 'DESTROY', time }), (s) => this.t.destroy(s, time, this.canEmit, this.d));
    for (const e of after) this.feed(formatEntry(e, { now: time }), (s) => this.t.dump(s, time, this.canEmit, this.d));
    this.t.endDump();
    return this.out.slice(n);
  }
  destroy(time: number, e: ConntrackEntry): Out[] {
    const n = this.out.length;
    this.feed(formatEntry(e, { event: 'DESTROY', time }), (s) => this.t.destroy(s, time, this.canEmit, this.d));
    return this.out.slice(n);
  }
}

const sum = (o: Out[]) => o.reduce((a, x) => [a[0]! + x.ob, a[1]! + x.rb], [0, 0]);

describe('FlowTracker over formatted conntrack lines', () => {
  it('regression: one live entry over six polls whose delta-time jitters emits exactly its growth', () => {
    const d = new Driver();
    const T0 = 1_800_000_000_000;
    const start = T0 - 5_500; // delta-time rounds down to whole seconds: 5 or 6 s depending on the poll
    const emitted: Out[] = [];
    let ob = 10_000;
    d.dump(T0, [entry(7, 40000, ob, 0, { start })]);
    for (let k = 1; k <= 6; k++) {
      ob += 1000;
      emitted.push(...d.dump(T0 + k * 1000 + (k % 2) * 500, [entry(7, 40000, ob, 0, { start })]));
    }
    assert.deepEqual(sum(emitted), [6000, 0], 'six polls of 1,000 bytes of growth each');
    assert.equal(emitted.length, 6);
    assert.equal(new Set(emitted.map((x) => x.start)).size, 1, 'flow_start read once');
    assert.equal(d.t.stats().restarted, 0);
  });

  it('baseline, growth, new entries, DESTROY rest, counter reset', () => {
    const d = new Driver();
    assert.deepEqual(d.dump(0, [entry(1, 1, 500, 5000), entry(2, 2, 100, 0)]), [], 'the first dump only sets the baseline');
    assert.deepEqual(d.t.stats().baselineEntries, 2);
    const p2 = d.dump(10, [entry(1, 1, 700, 5000), entry(2, 2, 100, 0), entry(3, 3, 40, 60)]);
    assert.deepEqual(p2.map((x) => [x.id, x.ob, x.rb]), [[1, 200, 0], [3, 40, 60]]);
    assert.deepEqual(d.destroy(15, entry(1, 1, 900, 5100)).map((x) => [x.id, x.ob, x.rb, x.final]), [[1, 200, 100, true]]);
    assert.deepEqual(d.destroy(16, entry(9, 9, 30, 70)).map((x) => [x.id, x.ob, x.rb, x.final]), [[9, 30, 70, true]], 'born and gone between polls');
    const p3 = d.dump(20, [entry(2, 2, 20, 0), entry(3, 3, 40, 60)]);
    assert.deepEqual(p3.map((x) => [x.id, x.ob]), [[2, 20]], 'a counter that went backwards restarts from zero');
    assert.equal(d.t.stats().restarted, 1);
    assert.equal(d.t.tracked, 2);
  });

  it('counters past 2^32 (bytes and packets) give exact deltas', () => {
    const d = new Driver();
    const big = (ob: number, op: number) => ({ ...entry(1, 1, ob, 0), origPackets: op });
    d.dump(0, [big(2 ** 40, 2 ** 32 + 5)]);
    const p = d.dump(10, [big(2 ** 40 + 123_456, 2 ** 32 + 9)]);
    assert.deepEqual(p.map((x) => x.ob), [123_456]);
    const fmt = formatEntry(big(2 ** 40 + 123_456, 2 ** 32 + 9));
    assert.match(fmt, /packets=4294967305 bytes=1099511751232/);
    const t = new FlowTracker();
    const s = new Scan();
    const out: Delta = { origBytes: 0, origPackets: 0, replyBytes: 0, replyPackets: 0, flowStart: 0, final: false };
    const line = (ob: number, op: number) => Buffer.from(formatEntry(big(ob, op)));
    t.beginDump();
    let b = line(2 ** 40, 2 ** 32 + 5);
    scanLine(b, 0, b.length, s);
    t.dump(s, 0, true, out);
    t.endDump();
    t.beginDump();
    b = line(2 ** 40 + 1000, 2 ** 32 + 12);
    scanLine(b, 0, b.length, s);
    assert.equal(t.dump(s, 10, true, out), true);
    assert.deepEqual([out.origBytes, out.origPackets], [1000, 7]);
  });

  it('the same id with another tuple is another entry (ids collide); zones tell entries apart', () => {
    const d = new Driver();
    d.dump(0, []);
    const p = d.dump(10, [entry(5, 1000, 10, 0), entry(5, 1001, 20, 0)]);
    assert.deepEqual(p.map((x) => x.ob), [10, 20]);
    assert.equal(d.t.tracked, 2);
    const z = d.dump(20, [entry(5, 1000, 10, 0), entry(5, 1001, 20, 0)], { zone: 4 });
    assert.deepEqual(z.map((x) => x.ob), [10, 20], 'zone 4: new entries');
    assert.equal(d.t.stats().duplicates, 0);
    assert.deepEqual(d.dump(30, [entry(5, 1000, 11, 0), entry(5, 1000, 11, 0)]).map((x) => x.ob), [1], 'a line listed twice counts once');
    assert.equal(d.t.stats().duplicates, 1);
  });

  it('a DESTROY read during a dump wins over a stale dump line of the same entry, before or after it', () => {
    const d = new Driver();
    d.dump(0, [entry(1, 1, 100, 100), entry(2, 2, 100, 100)]);
    const out = d.dumpWith(10, [entry(1, 1, 150, 100)], [entry(1, 1, 180, 100), entry(2, 2, 130, 100)], [entry(2, 2, 120, 100)]);
    assert.deepEqual(sum(out), [80 + 30, 0], 'entry 1: 50 by the dump + 30 by DESTROY; entry 2: 30 by DESTROY, its stale line ignored');
    assert.equal(d.t.stats().raced, 1);
    assert.deepEqual(d.dump(20, []), []);
    assert.equal(d.t.tracked, 0);
  });

  it('an entry missing from one dump is kept (its DESTROY may be late); missing from two it is forgotten as vanished', () => {
    const d = new Driver();
    d.dump(0, [entry(1, 1, 100, 0), entry(2, 2, 100, 0)]);
    d.dump(10, [entry(2, 2, 100, 0)]);
    assert.deepEqual(d.destroy(11, entry(1, 1, 160, 0)).map((x) => x.ob), [60], 'late DESTROY after the dump that missed it');
    d.dump(20, []);
    assert.equal(d.t.tracked, 1);
    d.dump(30, []);
    assert.deepEqual([d.t.tracked, d.t.stats().vanished], [0, 1]);
  });

  it('an aborted dump forgets nothing; DESTROY of an unknown entry before the baseline is ignored', () => {
    const d = new Driver();
    assert.deepEqual(d.destroy(0, entry(9, 9, 50, 0)), []);
    assert.equal(d.t.stats().destroyedBeforeBaseline, 1);
    d.dump(0, [entry(1, 1, 100, 0)]);
    d.dump(10, [], { abort: true });
    d.dump(20, [], { abort: true });
    assert.equal(d.t.tracked, 1);
    assert.deepEqual(d.dump(30, [entry(1, 1, 150, 0)]).map((x) => x.ob), [50]);
  });

  it('backpressure: a dump delta not taken stays in the kernel counter for the next dump; a DESTROY not taken is counted lost', () => {
    const d = new Driver();
    d.dump(0, [entry(1, 1, 100, 0), entry(2, 2, 100, 0)]);
    d.canEmit = false;
    assert.deepEqual(d.dump(10, [entry(1, 1, 150, 0), entry(2, 2, 120, 10), entry(3, 3, 7, 0)]), []);
    assert.equal(d.t.stats().deferred, 3);
    assert.deepEqual(d.destroy(12, entry(2, 2, 125, 10)), []);
    assert.deepEqual([d.t.stats().lostFlows, d.t.stats().lostBytes], [1, 35]);
    d.canEmit = true;
    assert.deepEqual(d.dump(20, [entry(1, 1, 160, 0), entry(3, 3, 9, 0)]).map((x) => [x.id, x.ob]), [[1, 60], [3, 9]]);
  });

  it('many polls of many entries, with reuse, churn and events: growth in equals deltas out', () => {
    const d = new Driver();
    let seed = 12345;
    const rnd = (n: number) => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) % n);
    const live = new Map<number, ConntrackEntry>();
    let nextId = 1;
    let grown = 0;
    for (let i = 0; i < 300; i++) live.set(nextId, entry(nextId++, 10000 + i, rnd(1000), rnd(1000)));
    d.dump(0, [...live.values()]);
    for (let poll = 1; poll <= 40; poll++) {
      const destroyed: ConntrackEntry[] = [];
      for (const [id, e] of live) {
        const g = rnd(3) === 0 ? rnd(5000) : 0;
        e.origBytes += g;
        e.origPackets += g ? 1 : 0;
        grown += g;
        if (rnd(20) === 0) {
          destroyed.push(e);
          live.delete(id);
        }
      }
      for (let k = 0; k < 10; k++) {
        const e = entry(nextId++ % 50 === 0 ? 1 : nextId, 20000 + poll * 100 + k, rnd(3000), 0); // some reuse id 1 with other tuples
        grown += e.origBytes;
        if (rnd(4) === 0) destroyed.push(e);
        else live.set(e.id * 100000 + e.original.sport, e);
      }
      const half = Math.floor(destroyed.length / 2);
      d.dumpWith(poll * 10, [...live.values()].slice(0, 100), destroyed.slice(0, half), [...live.values()].slice(100));
      for (const e of destroyed.slice(half)) d.destroy(poll * 10 + 5, e);
    }
    assert.equal(sum(d.out)[0], grown);
    assert.equal(d.t.stats().vanished, 0);
    assert.equal(d.t.tracked, live.size);
  });
});

describe('FlowTable', () => {
  it('insert, find and remove stay consistent through growth and backward-shift deletion', () => {
    const t = new FlowTable();
    const ref = new Map<string, number>();
    let seed = 7;
    const rnd = () => (seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0);
    for (let round = 0; round < 60_000; round++) {
      const id = rnd() % 5000;
      const hash = rnd() % 3;
      const k = `${id}:${hash}`;
      const i = t.find(id, hash);
      if (ref.has(k)) {
        assert.ok(i >= 0);
        assert.equal(t.origBytes(i), ref.get(k));
        assert.equal(t.flowStart(i), ref.get(k)! * 1000 + 7);
        if (round % 2) {
          t.remove(i);
          ref.delete(k);
        }
      } else {
        assert.equal(i, -1);
        const j = t.insert(id, hash, 1, round * 1000 + 7);
        t.setCounters(j, round, 2 ** 32 + round, 2 ** 47 + round * 3, 0);
        assert.equal(t.origPackets(j), round, 'packets are kept modulo 2^32');
        assert.equal(t.replyBytes(j), 2 ** 47 + round * 3, 'byte counters of 48 bits are exact');
        ref.set(k, round);
      }
    }
    assert.equal(t.size, ref.size);
    for (const [k, v] of ref) {
      const [id, hash] = k.split(':').map(Number) as [number, number];
      assert.equal(t.origBytes(t.find(id, hash)), v);
    }
  });

  it('1,000,000 entries: 36 bytes each in 64Ki blocks, an index grown by 1.5x at load 3/4 (no doubling overshoot)', () => {
    const t = new FlowTable();
    const n = 1_000_000;
    for (let i = 0; i < n; i++) t.insert((Math.imul(i + 1, 2654435761) >>> 0) || 1, i, 1, 0);
    for (let i = 0; i < n; i += 997) assert.equal(t.hash(t.find((Math.imul(i + 1, 2654435761) >>> 0) || 1, i)), i);
    const blocks = Math.ceil(n / 65536) * 65536 * 36;
    const index = t.memoryBytes - blocks;
    assert.ok(index >= (n / 0.75) * 4 && index <= ((n * 1.5) / 0.75) * 4, `index ${index} bytes`);
    assert.ok(t.memoryBytes < 45_000_000, `${t.memoryBytes} bytes (40-byte records and a power-of-two index at load 1/2: 50,331,648)`);
  });
});
