// Hand-written Kubernetes objects and raw flows for the enricher's tests.
import type { InventoryEvent, KubeObject, Node, OwnerReference, Pod, Service, Workload } from '@tollgate/kube';
import type { RawFlow, RawFlowBatch } from '@tollgate/schema';

let uidSeq = 0;
const uid = (name: string) => `${name}-uid-${++uidSeq}`;

export function node(name: string, ip: string, zone: string, region: string, providerID = `aws:///${zone}/i-${name}`): Node {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name, uid: uid(name), labels: { 'topology.kubernetes.io/zone': zone, 'topology.kubernetes.io/region': region } },
    spec: { providerID },
    status: { addresses: [{ type: 'InternalIP', address: ip }, { type: 'Hostname', address: name }] },
  };
}

export const ref = (o: KubeObject): OwnerReference => ({ kind: o.kind, name: o.metadata.name, uid: o.metadata.uid, controller: true });

export function workload(kind: Workload['kind'], name: string, namespace: string, owner?: KubeObject): Workload {
  return {
    apiVersion: kind === 'Job' || kind === 'CronJob' ? 'batch/v1' : 'apps/v1',
    kind,
    metadata: { name, namespace, uid: uid(name), ownerReferences: owner ? [ref(owner)] : undefined },
  };
}

export function pod(
  name: string,
  namespace: string,
  nodeName: string,
  ip: string,
  opts: { owner?: KubeObject; hostNetwork?: boolean; hostPorts?: Array<{ port: number; protocol?: 'TCP' | 'UDP' }>; phase?: string; ip6?: string } = {},
): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace, uid: uid(name), ownerReferences: opts.owner ? [ref(opts.owner)] : undefined },
    spec: {
      nodeName,
      hostNetwork: opts.hostNetwork,
      containers: [{ name: 'c', ports: (opts.hostPorts ?? []).map((p) => ({ containerPort: p.port, hostPort: p.port, protocol: p.protocol ?? 'TCP' })) }],
    },
    status: { podIP: ip, podIPs: opts.ip6 ? [{ ip }, { ip: opts.ip6 }] : [{ ip }], phase: opts.phase ?? 'Running' },
  };
}

export function service(name: string, namespace: string, clusterIP: string): Service {
  return { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace, uid: uid(name) }, spec: { clusterIP, ports: [{ port: 80 }] } };
}

export const added = (object: KubeObject, time = 0): InventoryEvent => ({ type: 'ADDED', object, time });
export const deleted = (object: KubeObject, time: number): InventoryEvent => ({ type: 'DELETED', object, time });

export interface FlowSpec {
  src: string;
  sport?: number;
  /** original dst (a ClusterIP before DNAT) */
  dst: string;
  dport: number;
  /** reply src: the real responder (default dst) */
  responder?: string;
  rport?: number;
  /** reply dst (default src; the node IP when masqueraded) */
  replyDst?: string;
  orig: number;
  reply: number;
  protocol?: number;
  id?: number;
  flowStart?: number;
}

export function flow(s: FlowSpec): RawFlow {
  const v6 = s.src.includes(':');
  return {
    conntrack_id: s.id ?? 1,
    protocol: s.protocol ?? 6,
    family: v6 ? 'IPV6' : 'IPV4',
    original: { src: s.src, dst: s.dst, sport: s.sport ?? 40000, dport: s.dport },
    reply: { src: s.responder ?? s.dst, dst: s.replyDst ?? s.src, sport: s.rport ?? s.dport, dport: s.sport ?? 40000 },
    orig_bytes: s.orig,
    orig_packets: Math.ceil(s.orig / 1000),
    reply_bytes: s.reply,
    reply_packets: Math.ceil(s.reply / 1000),
    flow_start: s.flowStart ?? 0,
    final: false,
  };
}

export function batch(nodeName: string, flows: RawFlow[], windowStart = 1_000_000, windowEnd = windowStart + 10_000): RawFlowBatch {
  return { cluster: 'prod', node: nodeName, agent_id: `${nodeName}@1`, seq: 0, window_start: windowStart, window_end: windowEnd, flows };
}

export const SOURCE = { agent_id: 'a', seq: 0, topic: 'flows.raw.v1', partition: 0, offset: 0 };
