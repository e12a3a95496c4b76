// From scanned lines to records, and from entries to conntrack's text (for the simulated
// cluster's source and tests, which then go through the same scanner as the kernel's output).
import type { RawFlow } from '@tollgate/schema';
import type { ConntrackEntry } from './index.ts';
import type { Scan } from './scan.ts';
import type { Delta } from './tracker.ts';

const PROTO_NAMES: Record<number, string> = { 1: 'icmp', 6: 'tcp', 17: 'udp', 58: 'icmpv6', 132: 'sctp', 33: 'dccp', 136: 'udplite', 47: 'gre' };

/** The RawFlow of a delta: both tuples as the line has them (strings made here, once per shipped delta). */
export function rawFlowOf(e: Scan, d: Delta): RawFlow {
  return {
    conntrack_id: e.id,
    protocol: e.protocol,
    family: e.family === 6 ? 'IPV6' : 'IPV4',
    original: { src: e.str(e.oSrc0, e.oSrc1), dst: e.str(e.oDst0, e.oDst1), sport: e.oSport, dport: e.oDport },
    reply: { src: e.str(e.rSrc0, e.rSrc1), dst: e.str(e.rDst0, e.rDst1), sport: e.rSport, dport: e.rDport },
    orig_bytes: d.origBytes,
    orig_packets: d.origPackets,
    reply_bytes: d.replyBytes,
    reply_packets: d.replyPackets,
    flow_start: d.flowStart,
    final: d.final,
  };
}

function tuple(t: ConntrackEntry['original'], ports: boolean): string {
  return ports ? `src=${t.src} dst=${t.dst} sport=${t.sport} dport=${t.dport}` : `src=${t.src} dst=${t.dst}`;
}

/**
 * One line as `conntrack -L -o extended,id` prints it (or, with `event`, as `conntrack -E -o
 * extended,timestamp,id` does). `start` (when not 0) becomes `delta-time=` relative to `now`.
 */
export function formatEntry(e: ConntrackEntry, opts: { event?: 'DESTROY' | 'NEW'; time?: number; now?: number; zone?: number } = {}): string {
  const fam = e.family === 'IPV6' ? 'ipv6     10' : 'ipv4     2';
  const name = PROTO_NAMES[e.protocol] ?? 'unknown';
  const ports = e.protocol === 6 || e.protocol === 17 || e.protocol === 132 || e.protocol === 33 || e.protocol === 136;
  const now = opts.now ?? opts.time ?? 0;
  const dt = e.start && now >= e.start ? ` delta-time=${Math.floor((now - e.start) / 1000)}` : '';
  const zone = opts.zone ? ` zone=${opts.zone}` : '';
  const state = e.protocol === 6 ? ' ESTABLISHED' : '';
  const body =
    `${fam} ${name.padEnd(8)} ${e.protocol} 431999${state} ${tuple(e.original, ports)} packets=${e.origPackets} bytes=${e.origBytes} ` +
    `${tuple(e.reply, ports)} packets=${e.replyPackets} bytes=${e.replyBytes} [ASSURED] mark=0${zone}${dt} use=1 id=${e.id}`;
  if (!opts.event) return body;
  const t = opts.time ?? 0;
  const ts = `[${Math.floor(t / 1000)}.${String((t % 1000) * 1000).padStart(6, '0')}]`;
  return `${ts}\t[${opts.event}] ${body}`;
}
