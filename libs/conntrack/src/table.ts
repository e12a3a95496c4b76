// A compact table of conntrack entries keyed by (conntrack id, original-tuple hash): no object
// and no string per entry. Dense storage in fixed blocks of typed arrays (growing never copies
// the entries), and an open-addressing index (linear probing, backward-shift deletion).
// About 48 bytes per entry plus 4-8 bytes of index: 1,000,000 entries take about 56 MB.

const BLOCK_BITS = 16;
const BLOCK = 1 << BLOCK_BITS;
const MASK = BLOCK - 1;
/** Float64 fields per entry: orig bytes, orig packets, reply bytes, reply packets, flow start. */
const F = 5;
/** Uint32 fields per entry: id, hash, generation last seen. */
const U = 3;

export class FlowTable {
  private index = new Int32Array(1024);
  private mask = 1023;
  private readonly f64: Float64Array[] = [];
  private readonly u32: Uint32Array[] = [];
  private n = 0;

  get size(): number {
    return this.n;
  }

  /** Bytes held by the typed arrays. */
  get memoryBytes(): number {
    return this.index.byteLength + this.f64.length * BLOCK * (F * 8 + U * 4);
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
      const o = (i & MASK) * U;
      if (u[o] === id && u[o + 1] === hash) return i;
    }
  }

  /** Adds an entry that is not in the table; counters start at 0. Returns its dense index. */
  insert(id: number, hash: number, gen: number, flowStart: number): number {
    if ((this.n + 1) * 2 > this.index.length) this.grow();
    const i = this.n++;
    const b = i >>> BLOCK_BITS;
    if (b === this.f64.length) {
      this.f64.push(new Float64Array(BLOCK * F));
      this.u32.push(new Uint32Array(BLOCK * U));
    }
    const u = this.u32[b]!;
    const o = (i & MASK) * U;
    u[o] = id;
    u[o + 1] = hash;
    u[o + 2] = gen;
    const f = this.f64[b]!;
    const fo = (i & MASK) * F;
    f[fo] = f[fo + 1] = f[fo + 2] = f[fo + 3] = 0;
    f[fo + 4] = flowStart;
    let s = this.slot(id, hash);
    while (this.index[s] !== 0) s = (s + 1) & this.mask;
    this.index[s] = i + 1;
    return i;
  }

  /** Removes the entry at dense index i (the last entry moves into its place). */
  remove(i: number): void {
    const u = this.u32[i >>> BLOCK_BITS]!;
    const o = (i & MASK) * U;
    this.unlink(u[o]!, u[o + 1]!, i);
    const last = this.n - 1;
    if (i !== last) {
      const lu = this.u32[last >>> BLOCK_BITS]!;
      const lo = (last & MASK) * U;
      const lid = lu[lo]!;
      const lhash = lu[lo + 1]!;
      // point the last entry's slot at i, then copy it there
      for (let s = this.slot(lid, lhash); ; s = (s + 1) & this.mask) {
        if (this.index[s] === last + 1) {
          this.index[s] = i + 1;
          break;
        }
      }
      u[o] = lid;
      u[o + 1] = lhash;
      u[o + 2] = lu[lo + 2]!;
      const f = this.f64[i >>> BLOCK_BITS]!;
      const fo = (i & MASK) * F;
      const lf = this.f64[last >>> BLOCK_BITS]!;
      const lfo = (last & MASK) * F;
      for (let k = 0; k < F; k++) f[fo + k] = lf[lfo + k]!;
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
      const vu = this.u32[v >>> BLOCK_BITS]!;
      const vo = (v & MASK) * U;
      const home = this.slot(vu[vo]!, vu[vo + 1]!);
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
      const i = v - 1;
      const u = this.u32[i >>> BLOCK_BITS]!;
      const o = (i & MASK) * U;
      let s = this.slot(u[o]!, u[o + 1]!);
      while (this.index[s] !== 0) s = (s + 1) & this.mask;
      this.index[s] = v;
    }
  }

  id(i: number): number {
    return this.u32[i >>> BLOCK_BITS]![(i & MASK) * U]!;
  }
  seen(i: number): number {
    return this.u32[i >>> BLOCK_BITS]![(i & MASK) * U + 2]!;
  }
  setSeen(i: number, gen: number): void {
    this.u32[i >>> BLOCK_BITS]![(i & MASK) * U + 2] = gen;
  }
  /** Counter k of entry i: 0 orig bytes, 1 orig packets, 2 reply bytes, 3 reply packets, 4 flow start. */
  get(i: number, k: number): number {
    return this.f64[i >>> BLOCK_BITS]![(i & MASK) * F + k]!;
  }
  set(i: number, k: number, v: number): void {
    this.f64[i >>> BLOCK_BITS]![(i & MASK) * F + k] = v;
  }
}
