// The hot path: one raw batch (conntrack deltas from one node) -> enriched flows, one per side
// of each flow that is local to the reporting node (DESIGN.md sections 1, 2 and 4).
//
//   initiator = original.src, responder = reply.src (this undoes kube-proxy DNAT);
//   a local initiator sends the original-direction bytes, a local responder the reply bytes;
//   a side that is not on this node is billed by its own node, which sees the same flow.
import { EnrichedBatchBuilder, type Endpoint, type EnrichedFlowBatch, type RawFlow, type RawFlowBatch, type Role, type SourceRef, type TrafficClass } from '@tollgate/schema';
import type { Classifier, IpInfo } from './classifier.ts';
import type { EndpointInfo, OwnerIndex, Target } from './owner-index.ts';

export interface EnrichContext {
  index: OwnerIndex;
  classifier: Classifier;
  /** TOLLGATE_CLOUD; '' = from the reporting node's spec.providerID. */
  cloud: string;
  /** TOLLGATE_NAT_GATEWAY. */
  natGateway: boolean;
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
}

export const newCounters = (): EnrichCounters => ({ flows: 0, empty: 0, unattributed: 0, records: 0 });

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
  };
}

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
  };
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
  const out = new EnrichedBatchBuilder();

  // A side of the flow: local if it is a pod on this node, this node itself, or a
  // hostNetwork pod of this node (by its declared host port).
  const resolve = (target: Target | undefined, port: number, protocol: number, t: number): Target | undefined => {
    if (target !== undefined && target.type === 'NODE') return index.hostPortPod(target.name, port, protocol, t) ?? target;
    return target;
  };
  const isLocal = (target: Target | undefined): boolean =>
    target !== undefined && (target.type === 'POD' ? target.node === node : target.type === 'NODE' ? target.name === node : false);

  // Endpoints are keyed by the index's cached per-object info and the classifier's cached
  // per-address info, so each distinct endpoint is built once per batch.
  const emit = (f: RawFlow, role: Role, local: Target, lInfo: IpInfo, lPort: number, remote: Target | undefined, rInfo: IpInfo, rPort: number, egB: number, inB: number, egP: number, inP: number) => {
    const li = index.info(local);
    let cls: TrafficClass;
    let remoteRef: number;
    if (remote !== undefined) {
      const ri = index.info(remote);
      remoteRef = out.endpoint(ri, () => endpoint(cluster, ri));
      cls = rInfo.direct ? 'DIRECT' : rInfo.cloud ? 'CLOUD_SERVICE' : zoneClass(li, ri);
    } else {
      remoteRef = out.endpoint(rInfo, () => external(rInfo));
      cls = rInfo.direct ? 'DIRECT' : rInfo.cloud ? 'CLOUD_SERVICE' : rInfo.private || !rInfo.valid ? 'PRIVATE' : 'INTERNET';
    }
    out.push({
      time: ws,
      conntrack_id: f.conntrack_id,
      protocol: f.protocol,
      family: f.family,
      role,
      local: out.endpoint(li, () => endpoint(cluster, li)),
      local_ip: lInfo.ip,
      local_port: lPort,
      remote: remoteRef,
      remote_ip: rInfo.ip,
      remote_port: rPort,
      class: cls,
      nat_gateway: ctx.natGateway && cls === 'INTERNET',
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
    const iT = resolve(index.lookupIp(iInfo.ip, t, we), o.sport, f.protocol, t);
    const rT = resolve(index.lookupIp(rInfo.ip, t, we), r.sport, f.protocol, t);
    const before = out.size;
    if (isLocal(iT)) emit(f, 'INITIATOR', iT!, iInfo, o.sport, rT, rInfo, r.sport, f.orig_bytes, f.reply_bytes, f.orig_packets, f.reply_packets);
    if (isLocal(rT)) emit(f, 'RESPONDER', rT!, rInfo, r.sport, iT, iInfo, o.sport, f.reply_bytes, f.orig_bytes, f.reply_packets, f.orig_packets);
    if (out.size === before) counters.unattributed++;
  }
  counters.records += out.size;
  return out.build({ cluster, node, cloud, window_start: raw.window_start, window_end: raw.window_end, source });
}
