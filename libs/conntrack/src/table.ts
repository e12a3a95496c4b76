// A compact table of conntrack entries keyed by (conntrack id, original-tuple hash): no object
// and no string per entry. Entries are 36-byte records in fixed blocks of one ArrayBuffer each
// (growing never copies them), found through an open-addressing index (linear probing,
// backward-shift deletion; each slot holds the entry's number and 8 bits of its key, so a probe
// past another key rarely reads that key's record) that grows by 1.5x, not 2x, at a load of 3/4
// (at most 2^24 - 1 entries): 1,000,000 entries take
// 36 MB of records (plus at most one partly used block of 2.4 MB) and 6.3 MB of index, where
// 40-byte records and a power-of-two index at load 1/2 took 42 + 8 MB (and 16 MB of index just
// past 1,048,576 entries).
//
// Record (32-bit words): 0 orig bytes low, 1 reply bytes low, 2 orig packets, 3 reply packets
// (packets modulo 2^32: a delta is exact while an entry grows by less than 2^32 packets between two
// reports), 4 id, 5 tuple hash, 6 flow start seconds; then 16-bit halves: 14 orig bytes high,
// 15 reply bytes high (byte counters of 48 bits: exact to 281 TB per entry), 16 flow start
// milliseconds, 17 generation last seen (modulo 2^16).

const BLOCK_BITS = 16;
const BLOCK = 1 << BLOCK_BITS;
const MASK = BLOCK - 1;
const WORDS = 9;
const REC = WORDS * 4;
const TWO32 = 2 ** 32;
const MIN_SLOTS = 1024;
const NO_BITS = 24;
const NO_MASK = (1 << NO_BITS) - 1;

function mix(id: number, hash: number): number {
  let x = Math.imul(id ^ Math.imul(hash, 0x9e3779b1), 0x85ebca6b);
  x ^= x >>> 13;
  x = Math.imul(x, 0xc2b2ae35);
  return (x ^ (x >>> 16)) >>> 0;
}

export class FlowTable {
  /** Slots: 0 free, else (8 key bits << 24 | entry number + 1). */
  private index = new Uint32Array(MIN_SLOTS);
  private cap = MIN_SLOTS;
  /** cap / 2^32: a 32-bit mix times this is its home slot. */
  private scale = MIN_SLOTS / TWO32;
  private readonly u32: Uint32Array[] = [];
  private readonly u16: Uint16Array[] = [];
  private n = 0;

  get size(): number {
    return this.n;
  }

  /** Bytes held by the typed arrays. */
  get memoryBytes(): number {
    return this.index.byteLength + this.u32.length * BLOCK * REC;
  }

  /** Home slot of a key's mix: scaled onto the index (any size, not only powers of two). */
  private home(x: number): number {
    return (x * this.scale) | 0;
  }

  private slot(id: number, hash: number): number {
    return this.home(mix(id, hash));
  }

  /** The slot value of entry i whose key mixes to x. */
  private static tag(x: number, i: number): number {
    return (((x & 0xff) << NO_BITS) | (i + 1)) >>> 0;
  }

  private next(s: number): number {
    return s + 1 === this.cap ? 0 : s + 1;
  }

  /** Dense index of the entry, or -1. */
  find(id: number, hash: number): number {
    const index = this.index;
    const x = mix(id, hash);
    const fp = x & 0xff;
    for (let s = this.home(x); ; s = this.next(s)) {
      const v = index[s]!;
      if (v === 0) return -1;
      if (v >>> NO_BITS !== fp) continue;
      const i = (v & NO_MASK) - 1;
      const u = this.u32[i >>> BLOCK_BITS]!;
      const o = (i & MASK) * WORDS;
      if (u[o + 4] === id && u[o + 5] === hash) return i;
    }
  }

  /** Adds an entry that is not in the table; counters start at 0. Returns its dense index. */
  insert(id: number, hash: number, gen: number, flowStart: number): number {
    if ((this.n + 1) * 4 > this.cap * 3) this.grow();
    if (this.n + 1 >= NO_MASK) throw new RangeError(`FlowTable: more than ${NO_MASK - 1} entries`);
    const i = this.n++;
    const b = i >>> BLOCK_BITS;
    if (b === this.u32.length) {
      const ab = new ArrayBuffer(BLOCK * REC);
      this.u32.push(new Uint32Array(ab));
      this.u16.push(new Uint16Array(ab));
    }
    this.setCounters(i, 0, 0, 0, 0);
    const u = this.u32[b]!;
    const o = (i & MASK) * WORDS;
    u[o + 4] = id;
    u[o + 5] = hash;
    this.setFlowStart(i, flowStart);
    this.setSeen(i, gen);
    const x = mix(id, hash);
    let s = this.home(x);
    while (this.index[s] !== 0) s = this.next(s);
    this.index[s] = FlowTable.tag(x, i);
    return i;
  }

  /** Removes the entry at dense index i (the last entry moves into its place). */
  remove(i: number): void {
    this.unlink(this.id(i), this.hash(i), i);
    const last = this.n - 1;
    if (i !== last) {
      const x = mix(this.id(last), this.hash(last));
      for (let s = this.home(x); ; s = this.next(s)) {
        if ((this.index[s]! & NO_MASK) === last + 1) {
          this.index[s] = FlowTable.tag(x, i);
          break;
        }
      }
      const to = this.u32[i >>> BLOCK_BITS]!;
      const from = this.u32[last >>> BLOCK_BITS]!;
      const a = (i & MASK) * WORDS;
      const c = (last & MASK) * WORDS;
      for (let k = 0; k < WORDS; k++) to[a + k] = from[c + k]!;
    }
    this.n--;
  }

  /** Frees the index slot of entry i (backward-shift deletion keeps probe chains whole). */
  private unlink(id: number, hash: number, i: number): void {
    const index = this.index;
    let s = this.slot(id, hash);
    while ((index[s]! & NO_MASK) !== i + 1) s = this.next(s);
    let hole = s;
    for (let j = this.next(hole); index[j] !== 0; j = this.next(j)) {
      const v = (index[j]! & NO_MASK) - 1;
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

  /** 1.5 times the slots (a multiple of 1024): at most 1/3 more index than a load of 3/4 needs. */
  private grow(): void {
    const old = this.index;
    this.cap = Math.ceil((old.length * 1.5) / MIN_SLOTS) * MIN_SLOTS;
    this.scale = this.cap / TWO32;
    this.index = new Uint32Array(this.cap);
    for (let k = 0; k < old.length; k++) {
      const v = old[k]!;
      if (v === 0) continue;
      const i = (v & NO_MASK) - 1;
      let s = this.slot(this.id(i), this.hash(i));
      while (this.index[s] !== 0) s = this.next(s);
      this.index[s] = v;
    }
    // Freed now, not at the next full collection: the old indexes (a typed array in the old
    // generation) would otherwise add up, about 2x the current one, to the peak RSS (16 MB at 1M).
    old.buffer.transfer(0);
  }

  id(i: number): number {
    return this.u32[i >>> BLOCK_BITS]![(i & MASK) * WORDS + 4]!;
  }
  hash(i: number): number {
    return this.u32[i >>> BLOCK_BITS]![(i & MASK) * WORDS + 5]!;
  }
  /** Generation last seen, modulo 2^16. */
  seen(i: number): number {
    return this.u16[i >>> BLOCK_BITS]![(i & MASK) * WORDS * 2 + 17]!;
  }
  setSeen(i: number, gen: number): void {
    this.u16[i >>> BLOCK_BITS]![(i & MASK) * WORDS * 2 + 17] = gen;
  }
  origBytes(i: number): number {
    const b = i >>> BLOCK_BITS;
    const o = (i & MASK) * WORDS;
    return this.u16[b]![o * 2 + 14]! * TWO32 + this.u32[b]![o]!;
  }
  replyBytes(i: number): number {
    const b = i >>> BLOCK_BITS;
    const o = (i & MASK) * WORDS;
    return this.u16[b]![o * 2 + 15]! * TWO32 + this.u32[b]![o + 1]!;
  }
  /** Packets modulo 2^32. */
  origPackets(i: number): number {
    return this.u32[i >>> BLOCK_BITS]![(i & MASK) * WORDS + 2]!;
  }
  replyPackets(i: number): number {
    return this.u32[i >>> BLOCK_BITS]![(i & MASK) * WORDS + 3]!;
  }
  /** Byte counters below 2^48; packets stored modulo 2^32. */
  setCounters(i: number, ob: number, op: number, rb: number, rp: number): void {
    const b = i >>> BLOCK_BITS;
    const o = (i & MASK) * WORDS;
    const u = this.u32[b]!;
    const h = this.u16[b]!;
    u[o] = ob; // the low 32 bits (a typed array store keeps the value modulo 2^32)
    u[o + 1] = rb;
    h[o * 2 + 14] = Math.floor(ob / TWO32);
    h[o * 2 + 15] = Math.floor(rb / TWO32);
    u[o + 2] = op;
    u[o + 3] = rp;
  }
  /** Flow start, ms since epoch (millisecond resolution, until 2106). */
  flowStart(i: number): number {
    const b = i >>> BLOCK_BITS;
    const o = (i & MASK) * WORDS;
    return this.u32[b]![o + 6]! * 1000 + this.u16[b]![o * 2 + 16]!;
  }
  setFlowStart(i: number, ms: number): void {
    const b = i >>> BLOCK_BITS;
    const o = (i & MASK) * WORDS;
    const t = ms > 0 ? ms : 0;
    this.u32[b]![o + 6] = Math.floor(t / 1000);
    this.u16[b]![o * 2 + 16] = t % 1000;
  }
}
