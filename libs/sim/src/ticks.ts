// A node's view of the simulated connections, the way the kernel's conntrack table shows it:
// one entry per connection that touches the node (a cross-node pod-to-pod connection is in both
// nodes' tables, DNAT'd on the initiator's node when it went through a ClusterIP; a NodePort
// connection from the internet is DNAT'd on the responder's node; internet egress of a pod is
// masqueraded to the node IP). Each tick: the DESTROY events since the previous tick (final
// counters), then a full dump with cumulative counters.
import type { ConntrackDestroy, ConntrackEntry, ConntrackTick } from '@tollgate/conntrack';
import type { Tuple } from '@tollgate/schema';
import { HOUR } from './cluster.ts';
import { hash32 } from './rng.ts';
import { counters, nodeOf, type SimConnection, type TrafficPlan } from './traffic.ts';

export interface EntryView {
  node: number;
  original: Tuple;
  reply: Tuple;
}

/** The conntrack entries of a connection: one per node it touches. */
export function views(c: SimConnection): EntryView[] {
  const iN = nodeOf(c.init);
  const rN = nodeOf(c.resp);
  const out: EntryView[] = [];
  if (iN) {
    // Masquerade: a pod's traffic leaving the cluster gets the node's address.
    const masq = c.resp.t === 'ext' && c.init.t === 'pod' && !c.init.pod.hostNetwork;
    const masqIp = c.family === 'IPV6' ? iN.ip6 : iN.ip;
    out.push({
      node: iN.index,
      original: { src: c.initIp, dst: c.via ? c.via.ip : c.respIp, sport: c.sport, dport: c.via ? c.via.port : c.dport },
      reply: { src: c.respIp, dst: masq ? masqIp : c.initIp, sport: c.dport, dport: c.sport },
    });
  }
  if (rN && rN !== iN) {
    // ClusterIP DNAT happened on the initiator's node; a NodePort is DNAT'd here.
    const here = c.via?.nodePort ? c.via : undefined;
    out.push({
      node: rN.index,
      original: { src: c.initIp, dst: here ? here.ip : c.respIp, sport: c.sport, dport: here ? here.port : c.dport },
      reply: { src: c.respIp, dst: c.initIp, sport: c.dport, dport: c.sport },
    });
  }
  return out;
}

export function touches(c: SimConnection, node: number): boolean {
  return nodeOf(c.init)?.index === node || nodeOf(c.resp)?.index === node;
}

function entry(c: SimConnection, v: EntryView, id: number, t: number): ConntrackEntry {
  const k = counters(c, t);
  return {
    id,
    protocol: c.protocol,
    family: c.family,
    original: v.original,
    reply: v.reply,
    origBytes: k.ob,
    origPackets: k.op,
    replyBytes: k.rb,
    replyPackets: k.rp,
    start: c.begin,
  };
}

interface Live {
  c: SimConnection;
  v: EntryView;
  id: number;
}

/** Hourly ticks of one node, generated lazily (only the live entries are in memory). */
export function* nodeTicks(plan: TrafficPlan, seed: number, start: number, node: number): Generator<ConntrackTick> {
  let nextId = 1_000_000_000 + (hash32(seed, 0x1d, node) % 2_000_000_000);
  const persistentIds = new Map<number, number>();
  let active: Live[] = [];
  let p = 0;
  const admit = (c: SimConnection, notAfter: number) => {
    if (c.end <= notAfter || !touches(c, node)) return;
    const v = views(c).find((x) => x.node === node)!;
    const id = (c.reuseIdOf !== undefined ? persistentIds.get(c.reuseIdOf) : undefined) ?? nextId++;
    if (c.key < 1_000_000) persistentIds.set(c.key, id);
    active.push({ c, v, id });
  };
  for (let h = 0; h <= plan.hours; h++) {
    const t = start + h * HOUR;
    // Entries created before the agent's first dump but already gone are never seen.
    const seenAfter = h === 0 ? t : t - HOUR;
    while (p < plan.persistent.length && plan.persistent[p]!.begin < t) admit(plan.persistent[p++]!, h === 0 ? t : -Infinity);
    if (h === 0) {
      for (let k = plan.firstWindow; k < 0; k++) for (const c of plan.window(k)) admit(c, seenAfter);
    } else {
      for (const c of plan.window(h - 1)) admit(c, -Infinity);
    }
    const destroyed: ConntrackDestroy[] = [];
    const dump: ConntrackEntry[] = [];
    let overruns = 0;
    const next: Live[] = [];
    for (const l of active) {
      if (l.c.end <= t) {
        if (l.c.lostDestroyOn === node) overruns++;
        else destroyed.push({ time: l.c.end, entry: entry(l.c, l.v, l.id, l.c.end) });
      } else {
        dump.push(entry(l.c, l.v, l.id, t));
        next.push(l);
      }
    }
    active = next;
    destroyed.sort((a, b) => a.time - b.time);
    const tick: ConntrackTick = { time: t, destroyed, dump };
    if (overruns) tick.overruns = overruns;
    yield tick;
  }
}
