// Parser for the text of `conntrack -L -o extended,id` (a dump line) and
// `conntrack -E -o extended,timestamp,id` (an event line), conntrack-tools 1.4.x.
// The kernel source of the agent (a later issue) runs these and feeds ConntrackTicks.
// Notes from real output (see the tests): the LAST `id=` is the conntrack id (ICMP tuples
// carry their own `id=`); `-L` lists one family only (`-f ipv4` is the default, `-f ipv6`
// lists the rest); `delta-time=` (seconds since the entry started) appears when
// net.netfilter.nf_conntrack_timestamp=1; DESTROY events carry the final counters.
import type { ConntrackEntry } from '@tollgate/conntrack';
import type { Tuple } from '@tollgate/schema';

export interface ParsedLine {
  /** For event lines: NEW, UPDATE or DESTROY. */
  event?: 'NEW' | 'UPDATE' | 'DESTROY';
  /** For event lines with `-o timestamp`: the event time, ms since epoch. */
  time?: number;
  entry: ConntrackEntry;
}

const FAMILIES: Record<string, ConntrackEntry['family']> = { ipv4: 'IPV4', ipv6: 'IPV6' };

/** Parses one line; undefined for lines that are not entries (the summary line, blank lines, other families). */
export function parseConntrackLine(line: string, now: number = Date.now()): ParsedLine | undefined {
  const tokens = line.trim().split(/\s+/);
  let i = 0;
  let time: number | undefined;
  let event: ParsedLine['event'];
  const ts = /^\[(\d+)\.(\d+)\]$/.exec(tokens[i] ?? '');
  if (ts) {
    time = Number(ts[1]) * 1000 + Math.floor(Number(`0.${ts[2]}`) * 1000);
    i++;
  }
  const ev = /^\[(NEW|UPDATE|DESTROY)\]$/.exec(tokens[i] ?? '');
  if (ev) {
    event = ev[1] as ParsedLine['event'];
    i++;
  }
  const family = FAMILIES[tokens[i] ?? ''];
  if (!family) return undefined;
  const protocol = Number(tokens[i + 3]);
  if (!Number.isInteger(protocol)) return undefined;
  const tuples: Array<Tuple & { packets: number; bytes: number }> = [];
  let id: number | undefined;
  let deltaTime: number | undefined;
  for (i += 4; i < tokens.length; i++) {
    const t = tokens[i]!;
    const eq = t.indexOf('=');
    if (eq < 0) continue; // timeout, state, [ASSURED], [UNREPLIED]
    const k = t.slice(0, eq);
    const v = t.slice(eq + 1);
    if (k === 'src') tuples.push({ src: v, dst: '', sport: 0, dport: 0, packets: 0, bytes: 0 });
    const cur = tuples[tuples.length - 1];
    switch (k) {
      case 'dst':
        if (cur) cur.dst = v;
        break;
      case 'sport':
        if (cur) cur.sport = Number(v);
        break;
      case 'dport':
        if (cur) cur.dport = Number(v);
        break;
      case 'packets':
        if (cur) cur.packets = Number(v);
        break;
      case 'bytes':
        if (cur) cur.bytes = Number(v);
        break;
      case 'id':
        id = Number(v); // the last one wins: the conntrack id follows the tuples
        break;
      case 'delta-time':
        deltaTime = Number(v);
        break;
    }
  }
  const [o, r] = tuples;
  if (!o || !r || id === undefined || !Number.isFinite(id)) return undefined;
  const at = time ?? now;
  const entry: ConntrackEntry = {
    id,
    protocol,
    family,
    original: { src: o.src, dst: o.dst, sport: o.sport, dport: o.dport },
    reply: { src: r.src, dst: r.dst, sport: r.sport, dport: r.dport },
    origBytes: o.bytes,
    origPackets: o.packets,
    replyBytes: r.bytes,
    replyPackets: r.packets,
    // delta-time has a resolution of a second: good for flow_start, not for telling entries apart.
    start: deltaTime !== undefined && event !== 'DESTROY' ? at - deltaTime * 1000 : 0,
  };
  const out: ParsedLine = { entry };
  if (event) out.event = event;
  if (time !== undefined) out.time = time;
  return out;
}
