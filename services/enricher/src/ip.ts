// IP addresses and CIDR prefixes without allocation-heavy libraries: IPv4 as one unsigned
// 32-bit number, IPv6 as four. A binary trie gives longest-prefix match in at most 32 (IPv4)
// or 128 (IPv6) steps whatever the number of prefixes, so thousands of provider ranges cost
// nothing per flow.

export type Ip = { readonly v6: false; readonly n: number } | { readonly v6: true; readonly w: Uint32Array };

/** Dotted quad to an unsigned 32-bit number, or -1 if it is not one. */
export function parseIPv4(s: string): number {
  let n = 0;
  let part = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      part = part * 10 + (c - 48);
      if (++digits > 3 || part > 255) return -1;
    } else if (c === 46) {
      if (digits === 0 || ++dots > 3) return -1;
      n = n * 256 + part;
      part = 0;
      digits = 0;
    } else return -1;
  }
  if (dots !== 3 || digits === 0) return -1;
  return n * 256 + part;
}

/** IPv6 text (with `::`, an embedded IPv4 tail and a `%zone` allowed) to four words, or undefined. */
export function parseIPv6(input: string): Uint32Array | undefined {
  let s = input;
  const pct = s.indexOf('%');
  if (pct >= 0) s = s.slice(0, pct);
  const groups: number[] = [];
  let gap = -1;
  const dbl = s.indexOf('::');
  if (dbl >= 0 && s.indexOf('::', dbl + 1) >= 0) return undefined;
  const parse = (part: string): boolean => {
    if (part === '') return true;
    const fields = part.split(':');
    for (let i = 0; i < fields.length; i++) {
      const f = fields[i]!;
      if (i === fields.length - 1 && f.includes('.')) {
        const v4 = parseIPv4(f);
        if (v4 < 0) return false;
        groups.push(v4 >>> 16, v4 & 0xffff);
        continue;
      }
      if (!/^[0-9a-fA-F]{1,4}$/.test(f)) return false;
      groups.push(parseInt(f, 16));
    }
    return true;
  };
  if (dbl >= 0) {
    if (!parse(s.slice(0, dbl))) return undefined;
    gap = groups.length;
    if (!parse(s.slice(dbl + 2))) return undefined;
    if (groups.length > 7) return undefined;
    groups.splice(gap, 0, ...new Array<number>(8 - groups.length).fill(0));
  } else {
    if (!parse(s) || groups.length !== 8) return undefined;
  }
  const w = new Uint32Array(4);
  for (let i = 0; i < 4; i++) w[i] = ((groups[2 * i]! << 16) | groups[2 * i + 1]!) >>> 0;
  return w;
}

/** Parses either family; IPv4-mapped IPv6 (::ffff:a.b.c.d) becomes IPv4. */
export function parseIp(s: string): Ip | undefined {
  if (s.indexOf(':') < 0) {
    const n = parseIPv4(s);
    return n < 0 ? undefined : { v6: false, n };
  }
  const w = parseIPv6(s);
  if (!w) return undefined;
  if (w[0] === 0 && w[1] === 0 && w[2] === 0xffff) return { v6: false, n: w[3]! };
  return { v6: true, w };
}

export function formatIPv4(n: number): string {
  return `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

/** RFC 5952 text: lower case, the longest run (>= 2) of zero groups as `::`, the leftmost on ties. */
export function formatIPv6(w: Uint32Array): string {
  const g: number[] = [];
  for (let i = 0; i < 4; i++) g.push(w[i]! >>> 16, w[i]! & 0xffff);
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (a: number[]) => a.map((x) => x.toString(16)).join(':');
  if (best < 0) return hex(g);
  return `${hex(g.slice(0, best))}::${hex(g.slice(best + bestLen))}`;
}

/** The canonical text of an address (as Kubernetes and conntrack print it), or undefined if it is not one. */
export function canonicalIp(s: string): string | undefined {
  const ip = parseIp(s);
  if (!ip) return undefined;
  return ip.v6 ? formatIPv6(ip.w) : formatIPv4(ip.n);
}

export interface Cidr {
  ip: Ip;
  bits: number;
}

/** `a.b.c.d/n` or `x::/n` (a bare address is a host prefix). Host bits are ignored. */
export function parseCidr(s: string): Cidr | undefined {
  const slash = s.indexOf('/');
  const ip = parseIp(slash < 0 ? s.trim() : s.slice(0, slash).trim());
  if (!ip) return undefined;
  const mapped = !ip.v6 && s.indexOf(':') >= 0 && slash >= 0; // ::ffff:a.b.c.d/n counts 96 bits of prefix
  const max = ip.v6 ? 128 : 32;
  if (slash < 0) return { ip, bits: max };
  const t = s.slice(slash + 1).trim();
  if (!/^\d{1,3}$/.test(t)) return undefined;
  let bits = Number(t);
  if (mapped) {
    if (bits < 96) return undefined;
    bits -= 96;
  }
  if (bits > max) return undefined;
  return { ip, bits };
}

const bit4 = (n: number, i: number): number => (n >>> (31 - i)) & 1;
const bit6 = (w: Uint32Array, i: number): number => (w[i >>> 5]! >>> (31 - (i & 31))) & 1;

/** Longest-prefix match over IPv4 and IPv6 prefixes. */
export class PrefixTrie<V> {
  // Node arrays (index 0 is the root); 0 in a child slot means "none".
  private readonly zero: number[][] = [[0], [0]];
  private readonly one: number[][] = [[0], [0]];
  private readonly val: number[][] = [[-1], [-1]];
  private readonly values: V[] = [];
  private count = 0;

  get size(): number {
    return this.count;
  }

  /**
   * Adds a prefix. When the same prefix already holds a value, `merge(old, new)` decides
   * what it keeps (default: the first one).
   */
  insert(cidr: Cidr, value: V, merge: (old: V, neu: V) => V = (old) => old): void {
    const f = cidr.ip.v6 ? 1 : 0;
    const zero = this.zero[f]!;
    const one = this.one[f]!;
    const val = this.val[f]!;
    let node = 0;
    for (let i = 0; i < cidr.bits; i++) {
      const b = cidr.ip.v6 ? bit6(cidr.ip.w, i) : bit4(cidr.ip.n, i);
      const arr = b ? one : zero;
      let next = arr[node]!;
      if (next === 0) {
        next = zero.length;
        zero.push(0);
        one.push(0);
        val.push(-1);
        arr[node] = next;
      }
      node = next;
    }
    const cur = val[node]!;
    if (cur < 0) {
      val[node] = this.values.length;
      this.values.push(value);
      this.count++;
    } else this.values[cur] = merge(this.values[cur]!, value);
  }

  /** The value of the longest prefix that contains `ip`. */
  lookup(ip: Ip): V | undefined {
    return ip.v6 ? this.lookup6(ip.w) : this.lookup4(ip.n);
  }

  lookup4(n: number): V | undefined {
    const zero = this.zero[0]!;
    const one = this.one[0]!;
    const val = this.val[0]!;
    let node = 0;
    let found = val[0]!;
    for (let i = 0; i < 32; i++) {
      node = bit4(n, i) ? one[node]! : zero[node]!;
      if (node === 0) break;
      const v = val[node]!;
      if (v >= 0) found = v;
    }
    return found >= 0 ? this.values[found] : undefined;
  }

  lookup6(w: Uint32Array): V | undefined {
    const zero = this.zero[1]!;
    const one = this.one[1]!;
    const val = this.val[1]!;
    let node = 0;
    let found = val[0]!;
    for (let i = 0; i < 128; i++) {
      node = bit6(w, i) ? one[node]! : zero[node]!;
      if (node === 0) break;
      const v = val[node]!;
      if (v >= 0) found = v;
    }
    return found >= 0 ? this.values[found] : undefined;
  }
}
