// A byte-level scanner for the text of conntrack-tools 1.4.x: dump lines of
// `conntrack -L -o extended,id` and event lines of `conntrack -E -o extended,timestamp,id`.
// It reads a line straight out of the Buffer the pipe delivered, into one reusable Scan
// (numbers and byte offsets, no strings and no objects per line): the agent makes strings
// only for the entries whose counters grew. Facts from real output (see the tests):
// - the LAST `id=` of a line is the conntrack id (ICMP tuples carry their own `id=`);
// - a line holds the original tuple, then the reply tuple (each `src= dst= ...`, with
//   `packets= bytes=` when nf_conntrack_acct=1), `[UNREPLIED]`/`[ASSURED]` flags, `mark=`,
//   `zone=` (zones other than 0), `delta-time=` (nf_conntrack_timestamp=1), `use=`, `id=`;
// - event lines start with `[<sec>.<usec>]` (timestamp) and `[NEW]`/`[UPDATE]`/`[DESTROY]`.

/** Other: not an entry (a blank line, the summary), skipped silently; Malformed: looks like an entry but a field is missing or bad, counted and skipped. */
export const LineKind = { Other: 0, Entry: 1, Malformed: 2 } as const;
export type LineKind = (typeof LineKind)[keyof typeof LineKind];

export const EventType = { None: 0, New: 1, Update: 2, Destroy: 3 } as const;
export type EventType = (typeof EventType)[keyof typeof EventType];

/** One scanned line. Offsets are into the buffer given to scanLine; valid until the next call. */
export class Scan {
  buf: Buffer = Buffer.alloc(0);
  event: EventType = EventType.None;
  /** Event time (ms since epoch) for event lines with a timestamp; -1 otherwise. */
  time = -1;
  family = 4;
  protocol = 0;
  /** Byte ranges [start, end) of the addresses: original src, dst, reply src, dst. */
  oSrc0 = 0;
  oSrc1 = 0;
  oDst0 = 0;
  oDst1 = 0;
  rSrc0 = 0;
  rSrc1 = 0;
  rDst0 = 0;
  rDst1 = 0;
  oSport = 0;
  oDport = 0;
  rSport = 0;
  rDport = 0;
  origBytes = 0;
  origPackets = 0;
  replyBytes = 0;
  replyPackets = 0;
  /** The conntrack id (the line's last `id=`). */
  id = -1;
  zone = 0;
  mark = 0;
  /** Seconds since the entry started (`delta-time=`), -1 when absent. */
  deltaTime = -1;
  /** 32-bit hash of the original tuple (every key=value of it but the counters), protocol and zone. */
  hash = 0;
  /** Tuples seen (2 for a complete entry). */
  tuples = 0;

  str(a: number, b: number): string {
    return this.buf.toString('latin1', a, b);
  }
}

const SP = 0x20;
const TAB = 0x09;
const EQ = 0x3d;
const LB = 0x5b; // [
const DOT = 0x2e;
const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

function isSpace(c: number): boolean {
  return c === SP || c === TAB || c === 0x0d;
}

/** Decimal number in buf[a, b); NaN when empty or not all digits. */
function num(buf: Buffer, a: number, b: number): number {
  if (a >= b) return NaN;
  let v = 0;
  for (let i = a; i < b; i++) {
    const d = buf[i]! - 0x30;
    if (d < 0 || d > 9) return NaN;
    v = v * 10 + d;
  }
  return v;
}

function tokenIs(buf: Buffer, a: number, b: number, word: string): boolean {
  if (b - a !== word.length) return false;
  for (let i = 0; i < word.length; i++) if (buf[a + i] !== word.charCodeAt(i)) return false;
  return true;
}

/** Scans buf[start, end) (one line, without its newline) into `s`. */
export function scanLine(buf: Buffer, start: number, end: number, s: Scan): LineKind {
  s.buf = buf;
  s.event = EventType.None;
  s.time = -1;
  s.tuples = 0;
  s.id = -1;
  s.zone = 0;
  s.mark = 0;
  s.deltaTime = -1;
  s.origBytes = s.origPackets = s.replyBytes = s.replyPackets = 0;
  s.oSport = s.oDport = s.rSport = s.rDport = 0;
  let p = start;
  while (p < end && isSpace(buf[p]!)) p++;
  if (p >= end) return LineKind.Other;
  // [1796001018.026768]
  if (buf[p] === LB && p + 1 < end && buf[p + 1]! >= 0x30 && buf[p + 1]! <= 0x39) {
    let q = p + 1;
    let sec = 0;
    while (q < end && buf[q] !== DOT && buf[q] !== 0x5d) sec = sec * 10 + (buf[q++]! - 0x30);
    let ms = 0;
    if (buf[q] === DOT) {
      q++;
      let digits = 0;
      while (q < end && buf[q] !== 0x5d) {
        if (digits < 3) ms = ms * 10 + (buf[q]! - 0x30);
        digits++;
        q++;
      }
      while (digits++ < 3) ms *= 10;
    }
    if (q >= end || !Number.isFinite(sec)) return LineKind.Malformed;
    s.time = sec * 1000 + ms;
    p = q + 1;
    while (p < end && isSpace(buf[p]!)) p++;
  }
  // [NEW] [UPDATE] [DESTROY]
  if (buf[p] === LB) {
    let q = p + 1;
    while (q < end && buf[q] !== 0x5d) q++;
    if (tokenIs(buf, p + 1, q, 'DESTROY')) s.event = EventType.Destroy;
    else if (tokenIs(buf, p + 1, q, 'NEW')) s.event = EventType.New;
    else if (tokenIs(buf, p + 1, q, 'UPDATE')) s.event = EventType.Update;
    else return LineKind.Other;
    p = q + 1;
    while (p < end && isSpace(buf[p]!)) p++;
  }
  // ipv4 / ipv6
  if (end - p < 5 || buf[p] !== 0x69 || buf[p + 1] !== 0x70 || buf[p + 2] !== 0x76) return s.time >= 0 || s.event ? LineKind.Malformed : LineKind.Other;
  const fam = buf[p + 3];
  if (fam === 0x34) s.family = 4;
  else if (fam === 0x36) s.family = 6;
  else return LineKind.Other;
  if (!isSpace(buf[p + 4]!)) return LineKind.Other;
  p += 4;
  // family number, protocol name, protocol number
  let field = 0;
  let protoOk = false;
  while (p < end && field < 3) {
    while (p < end && isSpace(buf[p]!)) p++;
    const a = p;
    while (p < end && !isSpace(buf[p]!)) p++;
    field++;
    if (field === 3) {
      s.protocol = num(buf, a, p);
      protoOk = Number.isInteger(s.protocol) && s.protocol <= 255;
    }
  }
  if (!protoOk) return LineKind.Malformed;
  let h = FNV_OFFSET;
  h = Math.imul(h ^ s.protocol, FNV_PRIME);
  let tuple = 0; // 1 = original, 2 = reply
  // One pass per token: the key up to '=', then the value, read as a number on the way.
  while (p < end) {
    let c = buf[p]!;
    while (c <= SP && ++p < end) c = buf[p]!;
    if (p >= end) break;
    const a = p;
    while (c !== EQ && c > SP && ++p < end) c = buf[p]!;
    if (c !== EQ) continue; // timeout, state, [ASSURED], [UNREPLIED], [USERSPACE]
    const klen = p - a;
    const v0 = ++p;
    const c0 = buf[a]!;
    const c1 = buf[a + 1]!;
    if (klen === 3 && (c0 === 0x73 || c0 === 0x64) && (c1 === 0x72 || c1 === 0x73)) {
      // src= / dst=: an address; in the original tuple its bytes are identity
      if (c0 === 0x73) tuple++;
      if (tuple === 1) {
        h = Math.imul(h ^ c0, FNV_PRIME);
        while (p < end) {
          c = buf[p]!;
          if (c <= SP) break;
          h = Math.imul(h ^ c, FNV_PRIME);
          p++;
        }
        if (c0 === 0x73) {
          s.oSrc0 = v0;
          s.oSrc1 = p;
        } else {
          s.oDst0 = v0;
          s.oDst1 = p;
        }
      } else {
        while (p < end && buf[p]! > SP) p++;
        if (tuple === 2) {
          if (c0 === 0x73) {
            s.rSrc0 = v0;
            s.rSrc1 = p;
          } else {
            s.rDst0 = v0;
            s.rDst1 = p;
          }
        }
      }
      continue;
    }
    let v = 0;
    let digits = true;
    while (p < end) {
      c = buf[p]!;
      if (c <= SP) break;
      const d = c - 0x30;
      if (d >= 0 && d <= 9) v = v * 10 + d;
      else digits = false;
      p++;
    }
    if (p === v0) digits = false;
    const identity = tuple === 1;
    if (klen === 5 && c1 === 0x70 && (c0 === 0x73 || c0 === 0x64)) {
      // sport= dport=
      if (!digits || v > 65535) return LineKind.Malformed;
      if (c0 === 0x73) {
        if (tuple === 1) s.oSport = v;
        else if (tuple === 2) s.rSport = v;
      } else if (tuple === 1) s.oDport = v;
      else if (tuple === 2) s.rDport = v;
    } else if (klen === 7 && c0 === 0x70 && c1 === 0x61) {
      // packets= (counters are not identity)
      if (!digits) return LineKind.Malformed;
      if (tuple === 1) s.origPackets = v;
      else if (tuple === 2) s.replyPackets = v;
      continue;
    } else if (klen === 5 && c0 === 0x62 && c1 === 0x79) {
      // bytes=
      if (!digits) return LineKind.Malformed;
      if (tuple === 1) s.origBytes = v;
      else if (tuple === 2) s.replyBytes = v;
      continue;
    } else if (klen === 2 && c0 === 0x69 && c1 === 0x64) {
      // id= (the last one is the conntrack id; an ICMP tuple's id= is part of the tuple)
      s.id = digits ? v : NaN;
    } else if (klen === 4 && c0 === 0x7a && c1 === 0x6f) {
      // zone=
      if (!digits) return LineKind.Malformed;
      s.zone = v;
      continue;
    } else if (klen === 4 && c0 === 0x6d && c1 === 0x61) {
      // mark=
      s.mark = digits ? v : 0;
      continue;
    } else if (klen === 10 && c0 === 0x64 && c1 === 0x65) {
      // delta-time=
      s.deltaTime = digits ? v : -1;
      continue;
    }
    if (identity) {
      // the other key=values of the original tuple (ports, ICMP type/code/id) are identity too
      h = Math.imul(h ^ (klen * 256 + c0), FNV_PRIME);
      h = Math.imul(h ^ (digits ? v : p - v0), FNV_PRIME);
    }
  }
  s.tuples = tuple;
  if (tuple < 2 || !(s.id >= 0 && s.id <= 0xffffffff)) return LineKind.Malformed;
  if (s.oSrc1 <= s.oSrc0 || s.oDst1 <= s.oDst0 || s.rSrc1 <= s.rSrc0 || s.rDst1 <= s.rDst0) return LineKind.Malformed;
  if (s.zone !== 0) h = Math.imul(h ^ (s.zone & 0xffff), FNV_PRIME);
  s.hash = h >>> 0;
  return LineKind.Entry;
}

/**
 * Splits a stream of chunks into lines without joining chunks: a line cut by a chunk boundary
 * is carried (copied once) into the next call. `onLine(buf, start, end)` gets each complete line.
 */
export class LineSplitter {
  private carry: Buffer | undefined;
  private readonly onLine: (buf: Buffer, start: number, end: number) => void;

  constructor(onLine: (buf: Buffer, start: number, end: number) => void) {
    this.onLine = onLine;
  }

  push(chunk: Buffer): void {
    let p = 0;
    if (this.carry) {
      const nl = chunk.indexOf(10);
      if (nl < 0) {
        this.carry = Buffer.concat([this.carry, chunk]);
        return;
      }
      const line = Buffer.concat([this.carry, chunk.subarray(0, nl)]);
      this.carry = undefined;
      this.onLine(line, 0, line.length);
      p = nl + 1;
    }
    for (;;) {
      const nl = chunk.indexOf(10, p);
      if (nl < 0) break;
      this.onLine(chunk, p, nl);
      p = nl + 1;
    }
    if (p < chunk.length) this.carry = Buffer.from(chunk.subarray(p));
  }

  /** Ends the stream; returns the bytes of an unterminated last line (a truncated line), 0 if none. */
  end(): number {
    const n = this.carry?.length ?? 0;
    this.carry = undefined;
    return n;
  }
}
