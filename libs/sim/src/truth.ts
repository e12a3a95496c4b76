// Ground truth, computed from the connection list alone (not from ticks, not by agent or
// enricher logic): what DESIGN.md section 2 bills. For every connection, the bytes between the
// agent's first dump (or the connection's start) and its end (or the last tick); the initiator,
// when it is in the cluster, sends the original direction and receives the reply; the
// responder, when in the cluster, the other way round. A hostNetwork pod owns a connection
// only through one of its host ports; otherwise the node does.
import type { SimNode } from './cluster.ts';
import type { SimConnection, SimEndpoint } from './traffic.ts';
import { counters, nodeOf } from './traffic.ts';

export type TruthClass = 'same_zone' | 'cross_zone' | 'cross_region' | 'direct' | 'cloud_service' | 'private' | 'internet';

/** The class whose price applies: DESIGN.md section 5 prices `direct` and `cloud_service` by where they are. */
export type TruthPrice = 'same_zone' | 'cross_zone' | 'cross_region' | 'cloud_service' | 'private' | 'internet';

export interface Bytes {
  egress_bytes: number;
  ingress_bytes: number;
}

export interface TruthRow extends Bytes {
  namespace: string;
  workload_kind: string;
  workload: string;
  class: TruthClass;
  /** The same bytes by the class whose price applies. */
  priced_as: Partial<Record<TruthPrice, Bytes>>;
}

/** Bytes of a connection the agent bills: those after its first dump at `from`, up to the last tick `to`. */
export function billable(c: SimConnection, from: number, to: number): { orig: number; reply: number } {
  if (c.end <= from || c.begin >= to) return { orig: 0, reply: 0 };
  const hi = counters(c, Math.min(c.end, to));
  if (c.begin < from) {
    const lo = counters(c, from);
    return { orig: hi.ob - lo.ob, reply: hi.rb - lo.rb };
  }
  return { orig: hi.ob, reply: hi.rb };
}

export interface Owner {
  namespace: string;
  kind: string;
  workload: string;
}

/** Who a local endpoint bills to, given the port it uses on this connection. */
export function ownerOf(e: SimEndpoint, port: number): Owner | undefined {
  if (e.t === 'pod') {
    if (!e.pod.hostNetwork || e.pod.hostPorts.includes(port)) return { namespace: e.pod.namespace, kind: e.pod.kind, workload: e.pod.workload };
    return { namespace: '', kind: 'Node', workload: e.pod.node.name };
  }
  if (e.t === 'node') return { namespace: '', kind: 'Node', workload: e.node.name };
  return undefined;
}

export function classOf(c: SimConnection): TruthClass {
  if (c.init.t === 'ext') return c.init.ext.cls;
  if (c.resp.t === 'ext') return c.resp.ext.cls;
  const a = nodeOf(c.init)!;
  const b = nodeOf(c.resp)!;
  if (a.zone === b.zone) return 'same_zone';
  return a.region === b.region ? 'cross_zone' : 'cross_region';
}

/**
 * The price class of a connection's bytes for the local side on `local`: `direct` costs what
 * in-cluster traffic to its zone or region would (peered ranges are not free), `cloud_service`
 * is free in the cluster's region and cross-region elsewhere; every other class is its own price.
 */
export function priceOf(c: SimConnection, cls: TruthClass, local: SimNode): TruthPrice {
  const e = c.init.t === 'ext' ? c.init.ext : c.resp.t === 'ext' ? c.resp.ext : undefined;
  if (cls === 'direct') {
    if (e?.region !== local.region) return 'cross_region';
    return e.zone === local.zone ? 'same_zone' : 'cross_zone';
  }
  if (cls === 'cloud_service') return e?.region && e.region !== local.region ? 'cross_region' : 'cloud_service';
  return cls;
}

export function computeTruth(conns: Iterable<SimConnection>, from: number, to: number): TruthRow[] {
  const rows = new Map<string, TruthRow>();
  const add = (o: Owner, cls: TruthClass, price: TruthPrice, egress: number, ingress: number) => {
    const k = `${o.namespace}\u0000${o.kind}\u0000${o.workload}\u0000${cls}`;
    let r = rows.get(k);
    if (!r) rows.set(k, (r = { namespace: o.namespace, workload_kind: o.kind, workload: o.workload, class: cls, egress_bytes: 0, ingress_bytes: 0, priced_as: {} }));
    r.egress_bytes += egress;
    r.ingress_bytes += ingress;
    const p = (r.priced_as[price] ??= { egress_bytes: 0, ingress_bytes: 0 });
    p.egress_bytes += egress;
    p.ingress_bytes += ingress;
  };
  for (const c of conns) {
    const b = billable(c, from, to);
    if (b.orig === 0 && b.reply === 0) continue;
    const cls = classOf(c);
    const i = ownerOf(c.init, c.sport);
    if (i) add(i, cls, priceOf(c, cls, nodeOf(c.init)!), b.orig, b.reply);
    const r = ownerOf(c.resp, c.dport);
    if (r) add(r, cls, priceOf(c, cls, nodeOf(c.resp)!), b.reply, b.orig);
  }
  return [...rows.values()].sort((a, b) => cmp(a.namespace, b.namespace) || cmp(a.workload_kind, b.workload_kind) || cmp(a.workload, b.workload) || cmp(a.class, b.class));
}

const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
