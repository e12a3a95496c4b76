// A compact table of conntrack entries keyed by (conntrack id, original-tuple hash): no object
// and no string per entry. Entries are 40-byte records in fixed blocks of one ArrayBuffer each
// (growing never copies them; one record is one cache line or less), found through an
// open-addressing index (linear probing, backward-shift deletion): 1,000,000 entries take about
// 42 MB of records plus 8 MB of index.
//
// Record (byte offsets): 0 orig bytes f64, 8 reply bytes f64, 16 orig packets u32 and 20 reply
// packets u32 (modulo 2^32: a delta is exact while an entry grows by less than 2^32 packets
// between two reports), 24 id u32, 28 tuple hash u32, 32 flow start seconds u32, 36 its
// milliseconds u16, 38 generation last seen u16 (modulo 2^16).

const BLOCK_BITS = 16;
const BLOCK = 1 << BLOCK_BITS;
const MASK = BLOCK - 1;
const REC = 40;

export class FlowTable {
  private index = new Int32Array(1024);
  private mask = 1023;
  private readonly f64: Float64Array[] = [];
  private readonly u32: Uint32Array[] = [];
  private readonly u16: Uint16Array[] = [];
  private n = 0;

  get size(): number {
    return this.n;
  }

  /** Bytes held by the typed arrays. */
  get memoryBytes(): number {
    return this.index.byteLength + this.f64.length * BLOCK * REC;
  }

  private slot(id: number, hash: number): number {
    let x = Math.imul(id ^ Math.imul(hash, 0x9e3779b1), 0x85ebca6b);
    x ^= x >>> 13;
    x = Math.imul(x, 0xc2b2ae35);
    x ^= x >>> 16;
    return x & this.mask;
  }

  /** Dense index of the entry, or -1. */
  find(id: number, hash: number): number {
    const index = this.index;
    for (let s = this.slot(id, hash); ; s = (s + 1) & this.mask) {
      const v = index[s]!;
      if (v === 0) return -1;
      const i = v - 1;
      const u = this.u32[i >>> BLOCK_BITS]!;
      const o = (i & MASK) * 10;
      if (u[o + 6] === id && u[o + 7] === hash) return i;
    }
  }

  /** Adds an entry that is not in the table; counters start at 0. Returns its dense index. */
  insert(id: number, hash: number, gen: number, flowStart: number): number {
    if ((this.n + 1) * 2 > this.index.length) this.grow();
    const i = this.n++;
    const b = i >>> BLOCK_BITS;
    if (b === this.f64.length) {
      const ab = new ArrayBuffer(BLOCK * REC);
      this.f64.push(new Float64Array(ab));
      this.u32.push(new Uint32Array(ab));
      this.u16.push(new Uint16Array(ab));
    }
    const r = i & MASK;
    const f = this.f64[b]!;
    f[r * 5] = 0;
    f[r * 5 + 1] = 0;
    const u = this.u32[b]!;
    u[r * 10 + 4] = 0;
    u[r * 10 + 5] = 0;
    u[r * 10 + 6] = id;
    u[r * 10 + 7] = hash;
    this.setFlowStart(i, flowStart);
    this.setSeen(i, gen);
    let s = this.slot(id, hash);
    while (this.index[s] !== 0) s = (s + 1) & this.mask;
    this.index[s] = i + 1;
    return i;
  }

  /** Removes the entry at dense index i (the last entry moves into its place). */
  remove(i: number): void {
    this.unlink(this.id(i), this.hash(i), i);
    const last = this.n - 1;
    if (i !== last) {
      const lid = this.id(last);
      const lhash = this.hash(last);
      for (let s = this.slot(lid, lhash); ; s = (s + 1) & this.mask) {
        if (this.index[s] === last + 1) {
          this.index[s] = i + 1;
          break;
        }
      }
      const to = this.u32[i >>> BLOCK_BITS]!;
      const from = this.u32[last >>> BLOCK_BITS]!;
      const a = (i & MASK) * 10;
      const c = (last & MASK) * 10;
      for (let k = 0; k < 10; k++) to[a + k] = from[c + k]!;
    }
    this.n--;
  }

  /** Frees the index slot of entry i (backward-shift deletion keeps probe chains whole). */
  private unlink(id: number, hash: number, i: number): void {
    const index = this.index;
    const mask = this.mask;
    let s = this.slot(id, hash);
    while (index[s] !== i + 1) s = (s + 1) & mask;
    let hole = s;
    for (let j = (hole + 1) & mask; index[j] !== 0; j = (j + 1) & mask) {
      const v = index[j]! - 1;
      const home = this.slot(this.id(v), this.hash(v));
      // move j into the hole unless its home lies cyclically in (hole, j]
      const between = hole <= j ? home > hole && home <= j : home > hole || home <= j;
      if (!between) {
        index[hole] = index[j]!;
        hole = j;
      }
    }
    index[hole] = 0;
  }

  private grow(): void {
    const old = this.index;
    this.index = new Int32Array(old.length * 2);
    this.mask = this.index.length - 1;
    for (let k = 0; k < old.length; k++) {
      const v = old[k]!;
      if (v === 0) continue;
      let s = this.slot(this.id(v - 1), this.hash(v - 1));
      while (this.index[s] !== 0) s = (s + 1) & this.mask;
      this.index[s] = v;
    }
  }

  id(i: number): number {
    return this.u32[i >>> BLOCK_BITS]![(i & MASK) * 10 + 6]!;
  }
  hash(i: number): number {
    return this.u32[i >>> BLOCK_BITS]![(i & MASK) * 10 + 7]!;
  }
  /** Generation last seen, modulo 2^16. */
  seen(i: number): number {
    return this.u16[i >>> BLOCK_BITS]![(i & MASK) * 20 + 19]!;
  }
  setSeen(i: number, gen: number): void {
    this.u16[i >>> BLOCK_BITS]![(i & MASK) * 20 + 19] = gen;
  }
  origBytes(i: number): number {
    return this.f64[i >>> BLOCK_BITS]![(i & MASK) * 5]!;
  }
  replyBytes(i: number): number {
    return this.f64[i >>> BLOCK_BITS]![(i & MASK) * 5 + 1]!;
  }
  /** Packets modulo 2^32. */
  origPackets(i: number): number {
    return this.u32[i >>> BLOCK_BITS]![(i & MASK) * 10 + 4]!;
  }
  replyPackets(i: number): number {
    return this.u32[i >>> BLOCK_BITS]![(i & MASK) * 10 + 5]!;
  }
  setCounters(i: number, ob: number, op: number, rb: number, rp: number): void {
    const b = i >>> BLOCK_BITS;
    const r = i & MASK;
    const f = this.f64[b]!;
    f[r * 5] = ob;
    f[r * 5 + 1] = rb;
    const u = this.u32[b]!;
    u[r * 10 + 4] = op; // stored modulo 2^32
    u[r * 10 + 5] = rp;
  }
  /** Flow start, ms since epoch (millisecond resolution, until 2106). */
  flowStart(i: number): number {
    const b = i >>> BLOCK_BITS;
    const r = i & MASK;
    return this.u32[b]![r * 10 + 8]! * 1000 + this.u16[b]![r * 20 + 18]!;
  }
  setFlowStart(i: number, ms: number): void {
    const b = i >>> BLOCK_BITS;
    const r = i & MASK;
    const t = ms > 0 ? ms : 0;
    this.u32[b]![r * 10 + 8] = Math.floor(t / 1000);
    this.u16[b]![r * 20 + 18] = t % 1000;
  }
}
