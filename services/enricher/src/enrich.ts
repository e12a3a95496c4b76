// The hot path: one raw batch (conntrack deltas from one node) -> enriched flows, one per side
// of each flow that is local to the reporting node (DESIGN.md sections 1, 2 and 4).
//
//   initiator = original.src, responder = reply.src (this undoes kube-proxy DNAT);
//   a local initiator sends the original-direction bytes, a local responder the reply bytes;
//   a side that is not on this node is billed by its own node, which sees the same flow.
import type { Endpoint, EnrichedFlow, EnrichedFlowBatch, RawFlow, RawFlowBatch, Role, SourceRef, TrafficClass } from '@tollgate/schema';
import type { Classifier, IpInfo } from './classifier.ts';
import type { EndpointInfo, OwnerIndex, Target } from './owner-index.ts';

export interface EnrichContext {
  index: OwnerIndex;
  classifier: Classifier;
  /** TOLLGATE_CLOUD; '' = from the reporting node's spec.providerID. */
  cloud: string;
  /** TOLLGATE_NAT_GATEWAY. */
  natGateway: boolean;
  /** TOLLGATE_NAT_GATEWAY_EXEMPT: cloud services (upper case) reached through a gateway endpoint, not the NAT gateway. */
  natExempt?: ReadonlySet<string>;
}

export interface EnrichCounters {
  /** Raw flows read. */
  flows: number;
  /** Raw flows without bytes (skipped). */
  empty: number;
  /** Raw flows with bytes but no side on the reporting node (nothing billed here). */
  unattributed: number;
  /** Enriched flows written. */
  records: number;
  /**
   * Records whose local side is not a known object: an address of the node's pod CIDR the index
   * has not seen (kind POD, workload unknown), or the node standing in for an unknown local side.
   */
  unresolved: number;
  /** Bytes (egress + ingress) of those records. */
  unresolvedBytes: number;
  /** Bytes (egress + ingress) of every record written. */
  bytes: number;
}

export const newCounters = (): EnrichCounters => ({ flows: 0, empty: 0, unattributed: 0, records: 0, unresolved: 0, unresolvedBytes: 0, bytes: 0 });

function endpoint(cluster: string, i: EndpointInfo): Endpoint {
  return {
    kind: i.kind,
    cluster,
    namespace: i.namespace,
    workload_kind: i.workload_kind,
    workload: i.workload,
    pod: i.pod,
    node: i.node,
    zone: i.zone,
    region: i.region,
    country: '',
    asn: 0,
    as_org: '',
    service: '',
    labels: i.labels,
  };
}

const NO_LABELS: Record<string, string> = {};

function external(info: IpInfo): Endpoint {
  const region = info.direct ? info.direct.region : info.cloud ? info.cloud.region : '';
  return {
    kind: 'EXTERNAL',
    cluster: '',
    namespace: '',
    workload_kind: '',
    workload: '',
    pod: '',
    node: '',
    zone: info.direct ? info.direct.zone : '',
    region,
    country: info.geo.country,
    asn: info.geo.asn,
    as_org: info.geo.asOrg,
    service: info.cloud ? info.cloud.service : '',
    labels: NO_LABELS,
  };
}

/**
 * Per batch, each distinct endpoint is listed once (dictionary encoding). Targets and IpInfos
 * remember the index they got in the batch being built (epSeq, epIdx): no Map or closure per
 * record, the hot path of the enricher's throughput.
 */
let batchSeq = 0;

/** Whether NAT processing applies to a cloud service: per exempt set, per service name. */
const exemptCache = new WeakMap<ReadonlySet<string>, Map<string, boolean>>();
function natExempt(set: ReadonlySet<string> | undefined, service: string): boolean {
  if (set === undefined || set.size === 0) return false;
  let m = exemptCache.get(set);
  if (m === undefined) exemptCache.set(set, (m = new Map()));
  let v = m.get(service);
  if (v === undefined) m.set(service, (v = set.has(service.toUpperCase())));
  return v;
}

/** In-cluster class from both sides' zones and regions. */
function zoneClass(local: EndpointInfo, remote: EndpointInfo): TrafficClass {
  if (remote.kind === 'SERVICE') return 'SAME_ZONE'; // a ClusterIP nobody answered for: the bytes never left the node
  if (local.region && remote.region && local.region !== remote.region) return 'CROSS_REGION';
  // Equal zones (also both unknown: a cluster without zones has no cross-zone traffic). One
  // side unknown counts as cross-zone: a cost tool must not hide bytes that may be billed.
  return local.zone === remote.zone ? 'SAME_ZONE' : 'CROSS_ZONE';
}

/**
 * Enriches one raw batch. Pure apart from the caches of `ctx`; never throws on odd input
 * (unknown addresses become EXTERNAL, a flow with no local side produces nothing).
 */
export function enrichBatch(raw: RawFlowBatch, source: SourceRef, ctx: EnrichContext, counters: EnrichCounters = newCounters()): EnrichedFlowBatch {
  const { index, classifier } = ctx;
  const node = raw.node;
  const cluster = raw.cluster;
  const ws = raw.window_start;
  const we = raw.window_end > ws ? raw.window_end : ws;
  const cloud = ctx.cloud || (index.node(node)?.cloud ?? '');
  const seq = ++batchSeq;
  const endpoints: Endpoint[] = [];
  const records: EnrichedFlow[] = [];
  const targetRef = (tg: Target, i: EndpointInfo): number => {
    if (tg.epSeq !== seq) {
      tg.epSeq = seq;
      tg.epIdx = endpoints.length;
      endpoints.push(endpoint(cluster, i));
    }
    return tg.epIdx;
  };
  const externalRef = (info: IpInfo): number => {
    if (info.epSeq !== seq) {
      info.epSeq = seq;
      info.epIdx = endpoints.length;
      endpoints.push(external(info));
    }
    return info.epIdx;
  };

  // A side of the flow: local if it is a pod on this node, this node itself, or a
  // hostNetwork pod of this node (by its declared host port).
  const resolve = (target: Target | undefined, port: number, protocol: number, t: number): Target | undefined => {
    if (target !== undefined && target.type === 'NODE') return index.hostPortPod(target.name, port, protocol, t) ?? target;
    return target;
  };
  const isLocal = (target: Target | undefined): boolean =>
    target !== undefined && (target.type === 'POD' ? target.node === node : target.type === 'NODE' ? target.name === node || target.standIn === node : false);

  /** The Service the initiator addressed, when kube-proxy DNAT'd its ClusterIP to another address. */
  const serviceOf = (f: RawFlow, t: number): string => {
    const dst = f.original.dst;
    if (dst === f.reply.src) return '';
    const d = classifier.info(dst);
    const svc = index.lookupIp(d.ip, t, we);
    return svc !== undefined && svc.type === 'SERVICE' ? (svc.ref ??= `${svc.namespace}/${svc.name}`) : '';
  };

  // Endpoints are keyed by the index's targets and the classifier's cached per-address info,
  // so each distinct endpoint is built once per batch.
  const emit = (f: RawFlow, service: string, role: Role, local: Target, lInfo: IpInfo, lPort: number, remote: Target | undefined, rInfo: IpInfo, rPort: number, egB: number, inB: number, egP: number, inP: number) => {
    const li = index.info(local);
    counters.bytes += egB + inB;
    if (li.unresolved) {
      counters.unresolved++;
      counters.unresolvedBytes += egB + inB;
    }
    let cls: TrafficClass;
    let remoteRef: number;
    if (remote !== undefined) {
      const ri = index.info(remote);
      remoteRef = targetRef(remote, ri);
      cls = rInfo.direct ? 'DIRECT' : rInfo.cloud ? 'CLOUD_SERVICE' : zoneClass(li, ri);
    } else {
      remoteRef = externalRef(rInfo);
      cls = rInfo.direct ? 'DIRECT' : rInfo.cloud ? 'CLOUD_SERVICE' : rInfo.private || !rInfo.valid ? 'PRIVATE' : 'INTERNET';
    }
    records.push({
      time: ws,
      conntrack_id: f.conntrack_id,
      protocol: f.protocol,
      family: f.family,
      role,
      local: targetRef(local, li),
      local_ip: lInfo.ip,
      local_port: lPort,
      remote: remoteRef,
      remote_ip: rInfo.ip,
      remote_port: rPort,
      service,
      class: cls,
      // NAT processing on every byte that passes the gateway: internet and cloud services alike
      // (S3 through a NAT gateway), unless that service has a gateway endpoint.
      nat_gateway: ctx.natGateway && (cls === 'INTERNET' || (cls === 'CLOUD_SERVICE' && !natExempt(ctx.natExempt, rInfo.cloud!.service))),
      egress_bytes: egB,
      ingress_bytes: inB,
      egress_packets: egP,
      ingress_packets: inP,
    });
  };

  const flows = raw.flows;
  for (let k = 0; k < flows.length; k++) {
    const f = flows[k]!;
    counters.flows++;
    if (f.orig_bytes <= 0 && f.reply_bytes <= 0) {
      counters.empty++;
      continue;
    }
    // The flow's time: when it started, within the window (long-lived flows: the window start).
    const t = f.flow_start < ws ? ws : f.flow_start > we ? we : f.flow_start;
    const o = f.original;
    const r = f.reply;
    const iInfo = classifier.info(o.src);
    const rInfo = classifier.info(r.src);
    let iT = resolve(index.lookupIp(iInfo.ip, t, we), o.sport, f.protocol, t);
    let rT = resolve(index.lookupIp(rInfo.ip, t, we), r.sport, f.protocol, t);
    // An address the index does not know, in this node's pod CIDR, is a pod of this node it has
    // not seen (yet): billed here as such, workload unknown, never dropped.
    if (iT === undefined && iInfo.addr !== undefined) iT = index.unknownLocalPod(node, iInfo.addr);
    if (rT === undefined && rInfo.addr !== undefined) rT = index.unknownLocalPod(node, rInfo.addr);
    let iLocal = isLocal(iT);
    let rLocal = isLocal(rT);
    if (!iLocal && !rLocal) {
      // Neither side is known to be here, yet this node saw the flow: a side the index cannot
      // place (no pod CIDR to tell) is billed to the node. If the other side is known (a pod or
      // node elsewhere, an external address), the unknown side must be this node's; if both are
      // unknown and in-cluster, the initiator is taken (the sender of the original direction).
      const self = index.node(node);
      const unknownIn = (tg: Target | undefined, info: IpInfo) => tg === undefined && info.valid && info.private && info.direct === undefined;
      if (self !== undefined) {
        const iu = unknownIn(iT, iInfo);
        const ru = unknownIn(rT, rInfo);
        if (iu && !ru) iT = index.unknownLocalNode(self);
        else if (ru && !iu) rT = index.unknownLocalNode(self);
        else if (iu && ru) iT = index.unknownLocalNode(self);
        iLocal = isLocal(iT);
        rLocal = isLocal(rT);
      }
    }
    const before = records.length;
    const service = iLocal || rLocal ? serviceOf(f, t) : '';
    if (iLocal) emit(f, service, 'INITIATOR', iT!, iInfo, o.sport, rT, rInfo, r.sport, f.orig_bytes, f.reply_bytes, f.orig_packets, f.reply_packets);
    if (rLocal) emit(f, service, 'RESPONDER', rT!, rInfo, r.sport, iT, iInfo, o.sport, f.reply_bytes, f.orig_bytes, f.reply_packets, f.orig_packets);
    if (records.length === before) counters.unattributed++;
  }
  counters.records += records.length;
  return { cluster, node, cloud, window_start: raw.window_start, window_end: raw.window_end, source, endpoints, flows: records };
}
