// The simulated cluster's objects and their lifetimes: nodes in three zones, workloads with
// their owner chains (Deployment -> ReplicaSet -> Pod, CronJob -> Job -> Pod, StatefulSet,
// DaemonSet on hostNetwork), Services with ClusterIPs, pod IPs from a per-node IPAM that hands
// out the lowest free address (so IPs of deleted pods are reused by later pods), and the
// Kubernetes-API-shaped inventory events the enricher indexes.
import type { InventoryEvent, KubeObject, Node, ObjectMeta, OwnerReference, Pod, Service, Workload } from '@tollgate/kube';
import { REGION_LABEL, ZONE_LABEL } from '@tollgate/kube';
import { Rng } from './rng.ts';

export const HOUR = 3_600_000;
export const DAY = 24 * HOUR;
export const REGION = 'us-east-1';

export interface SimNode {
  index: number;
  name: string;
  ip: string;
  ip6: string;
  zone: string;
  region: string;
  instanceId: string;
  uid: string;
}

export type TopKind = 'Deployment' | 'StatefulSet' | 'DaemonSet' | 'CronJob';

export interface SimPod {
  namespace: string;
  name: string;
  uid: string;
  /** Top owner: what traffic is billed to. */
  kind: TopKind;
  workload: string;
  node: SimNode;
  ip: string;
  ip6: string;
  hostNetwork: boolean;
  hostPorts: number[];
  created: number;
  /** Infinity while it exists. */
  deleted: number;
  /** Job pods: when they finished (phase Succeeded). */
  finished?: number;
  owner: OwnerReference;
  ports: number[];
}

export interface SimService {
  namespace: string;
  name: string;
  clusterIP: string;
  port: number;
  targetPort: number;
  nodePort?: number;
  protocol: 'TCP' | 'UDP';
}

/** A workload's replicas: slot i holds successive pods (a rollout replaces them). */
export interface SimWorkload {
  namespace: string;
  kind: TopKind;
  name: string;
  slots: SimPod[][];
}

const iso = (ms: number): string => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

function meta(name: string, namespace: string | undefined, uid: string, created: number, extra: Partial<ObjectMeta> = {}): ObjectMeta {
  const m: ObjectMeta = { name, uid, creationTimestamp: iso(created), ...extra };
  if (namespace !== undefined) m.namespace = namespace;
  return m;
}

const ownerRef = (apiVersion: string, kind: string, name: string, uid: string): OwnerReference => ({ apiVersion, kind, name, uid, controller: true });

interface PodSpec {
  namespace: string;
  name: string;
  kind: TopKind;
  workload: string;
  node: SimNode;
  created: number;
  deleted: number;
  finished?: number;
  owner: OwnerReference;
  hostNetwork?: boolean;
  hostPorts?: number[];
  ports: number[];
  labels: Record<string, string>;
  slot?: { workload: SimWorkload; index: number };
}

export interface ClusterOptions {
  seed: number;
  start: number;
  end: number;
}

export interface Cluster {
  nodes: SimNode[];
  pods: SimPod[];
  services: Map<string, SimService>;
  workloads: Map<string, SimWorkload>;
  inventory: InventoryEvent[];
  /** Times report-nightly runs started (cron 0 2 * * *), within [start, end). */
  jobRuns: number[];
  /** When the frontend rollout happened (Infinity if the run is too short for it). */
  rolloutAt: number;
}

export const wkey = (namespace: string, name: string): string => `${namespace}/${name}`;

/** The pod of a replica slot that runs at time t (the older one during a rollout's overlap). */
export function podAt(w: SimWorkload, slot: number, t: number): SimPod | undefined {
  for (const p of w.slots[slot] ?? []) if (p.created < t && t < p.deleted) return p;
  return undefined;
}

export function buildCluster(opts: ClusterOptions): Cluster {
  const { seed, start, end } = opts;
  const rng = Rng.of(seed, 0xc1);
  const events: InventoryEvent[] = [];
  const emit = (type: InventoryEvent['type'], object: KubeObject, time: number) => events.push({ type, object, time });

  // --- nodes: 4 in 3 zones of us-east-1 -------------------------------------------------
  const nodeDefs = [
    { ip: '10.0.1.10', zone: 'us-east-1a' },
    { ip: '10.0.2.10', zone: 'us-east-1b' },
    { ip: '10.0.3.10', zone: 'us-east-1c' },
    { ip: '10.0.1.11', zone: 'us-east-1a' },
  ];
  const nodeCreated = start - 40 * DAY;
  const nodes: SimNode[] = nodeDefs.map((d, i) => ({
    index: i,
    name: `ip-${d.ip.replaceAll('.', '-')}.ec2.internal`,
    ip: d.ip,
    ip6: `fd00:10:0:${i + 1}::10`,
    zone: d.zone,
    region: REGION,
    instanceId: `i-0${rng.hex(16)}`,
    uid: rng.uid(),
  }));
  for (const n of nodes) {
    const obj: Node = {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: meta(n.name, undefined, n.uid, nodeCreated + n.index * 60_000, {
        labels: { 'kubernetes.io/hostname': n.name, [ZONE_LABEL]: n.zone, [REGION_LABEL]: n.region, 'node.kubernetes.io/instance-type': 'm6i.xlarge' },
      }),
      spec: {
        providerID: `aws:///${n.zone}/${n.instanceId}`,
        podCIDR: `10.244.${n.index}.0/24`,
        podCIDRs: [`10.244.${n.index}.0/24`, `fd00:10:244:${n.index + 1}::/64`],
      },
      status: {
        addresses: [
          { type: 'InternalIP', address: n.ip },
          { type: 'InternalIP', address: n.ip6 },
          { type: 'Hostname', address: n.name },
          { type: 'InternalDNS', address: n.name },
        ],
      },
    };
    emit('ADDED', obj, nodeCreated + n.index * 60_000);
  }

  // --- services ------------------------------------------------------------------------
  const services = new Map<string, SimService>();
  const svc = (s: SimService, created: number) => {
    services.set(wkey(s.namespace, s.name), s);
    const obj: Service = {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: meta(s.name, s.namespace, rng.uid(), created, { labels: { app: s.name } }),
      spec: {
        type: s.nodePort ? 'NodePort' : 'ClusterIP',
        clusterIP: s.clusterIP,
        clusterIPs: [s.clusterIP],
        ports: [{ port: s.port, targetPort: s.targetPort, protocol: s.protocol, ...(s.nodePort ? { nodePort: s.nodePort } : {}) }],
      },
    };
    emit('ADDED', obj, created);
  };
  const t0 = start - 30 * DAY;
  svc({ namespace: 'default', name: 'kubernetes', clusterIP: '10.96.0.1', port: 443, targetPort: 443, protocol: 'TCP' }, nodeCreated);
  svc({ namespace: 'shop', name: 'checkout', clusterIP: '10.96.10.20', port: 80, targetPort: 8080, protocol: 'TCP' }, t0);
  svc({ namespace: 'shop', name: 'inventory', clusterIP: '10.96.10.30', port: 7777, targetPort: 7777, protocol: 'TCP' }, t0);
  svc({ namespace: 'shop', name: 'recommender', clusterIP: '10.96.10.40', port: 80, targetPort: 8080, protocol: 'TCP' }, t0);
  svc({ namespace: 'data', name: 'postgres', clusterIP: '10.96.20.10', port: 5432, targetPort: 5432, protocol: 'TCP' }, t0);
  svc({ namespace: 'web', name: 'api', clusterIP: '10.96.30.10', port: 80, targetPort: 8080, nodePort: 30080, protocol: 'TCP' }, t0);
  svc({ namespace: 'monitoring', name: 'statsd', clusterIP: '10.96.40.20', port: 9125, targetPort: 9125, protocol: 'UDP' }, t0);
  svc({ namespace: 'monitoring', name: 'prometheus', clusterIP: '10.96.40.10', port: 9090, targetPort: 9090, protocol: 'TCP' }, t0);

  // --- workloads and pods ------------------------------------------------------------------
  const workloads = new Map<string, SimWorkload>();
  const specs: PodSpec[] = [];
  const workloadObj = (apiVersion: string, kind: Workload['kind'], name: string, namespace: string, created: number, owner?: OwnerReference): Workload => {
    const w: Workload = { apiVersion, kind, metadata: meta(name, namespace, rng.uid(), created, { labels: { app: name.split('-')[0]! } }) };
    if (owner) w.metadata.ownerReferences = [owner];
    emit('ADDED', w, created);
    return w;
  };
  const refOf = (w: Workload): OwnerReference => ownerRef(w.apiVersion, w.kind, w.metadata.name, w.metadata.uid);

  const deployment = (namespace: string, name: string, replicas: number, created: number) => {
    const dep = workloadObj('apps/v1', 'Deployment', name, namespace, created);
    const w: SimWorkload = { namespace, kind: 'Deployment', name, slots: Array.from({ length: replicas }, () => []) };
    workloads.set(wkey(namespace, name), w);
    const rsAt = (t: number) => {
      const hash = rng.name(9, 'bcdfghjklmnpqrstvwxz2456789');
      return workloadObj('apps/v1', 'ReplicaSet', `${name}-${hash}`, namespace, t, refOf(dep));
    };
    return { w, dep, rsAt };
  };

  const podsCreated = start - 6 * DAY;
  const addDeploymentPods = (
    d: { w: SimWorkload; rsAt: (t: number) => Workload },
    placement: number[],
    ports: number[],
    from: number,
    until: number,
    rs?: Workload,
  ) => {
    const r = rs ?? d.rsAt(from - 5_000);
    placement.forEach((nodeIdx, slot) => {
      specs.push({
        namespace: d.w.namespace,
        name: `${r.metadata.name}-${rng.name(5)}`,
        kind: 'Deployment',
        workload: d.w.name,
        node: nodes[nodeIdx]!,
        created: from + slot * 7_000,
        deleted: until === Infinity ? Infinity : until + slot * 7_000,
        owner: refOf(r),
        ports,
        labels: { app: d.w.name, 'pod-template-hash': r.metadata.name.slice(d.w.name.length + 1) },
        slot: { workload: d.w, index: slot },
      });
    });
  };

  // Job runs: cron "0 2 * * *" (UTC). Include the run before start (history) for the IPAM.
  const jobRuns: number[] = [];
  const allRuns: number[] = [];
  for (let t = Math.floor((start - DAY) / DAY) * DAY + 2 * HOUR; t < end; t += DAY) {
    if (t >= start - DAY && t < end) allRuns.push(t);
    if (t > start && t < end) jobRuns.push(t);
  }
  const rolloutIdx = Math.min(3, jobRuns.length - 1);
  const rolloutAt = rolloutIdx >= 0 && jobRuns[rolloutIdx]! + 8 * HOUR < end - HOUR ? jobRuns[rolloutIdx]! + 8 * HOUR : Infinity;

  // shop/frontend: 3 replicas over the 3 zones; rolled out once (new ReplicaSet, new pods).
  const frontend = deployment('shop', 'frontend', 3, t0);
  addDeploymentPods(frontend, [0, 1, 2], [8080], podsCreated, rolloutAt === Infinity ? Infinity : rolloutAt + 90_000);
  const checkout = deployment('shop', 'checkout', 2, t0);
  addDeploymentPods(checkout, [0, 1], [8080], podsCreated + 60_000, Infinity);
  const inventory = deployment('shop', 'inventory', 1, t0);
  addDeploymentPods(inventory, [2], [7777], podsCreated + 120_000, Infinity);
  const recommender = deployment('shop', 'recommender', 1, t0);
  addDeploymentPods(recommender, [3], [8080], podsCreated + 180_000, Infinity);
  const api = deployment('web', 'api', 2, t0);
  addDeploymentPods(api, [0, 3], [8080], podsCreated + 240_000, Infinity);
  const prometheus = deployment('monitoring', 'prometheus', 1, t0);
  addDeploymentPods(prometheus, [2], [9090, 9125], podsCreated + 300_000, Infinity);

  // data/postgres StatefulSet: postgres-0 (primary, zone b), postgres-1 (replica, zone c).
  {
    const sts = workloadObj('apps/v1', 'StatefulSet', 'postgres', 'data', t0);
    const w: SimWorkload = { namespace: 'data', kind: 'StatefulSet', name: 'postgres', slots: [[], []] };
    workloads.set(wkey('data', 'postgres'), w);
    [1, 2].forEach((nodeIdx, i) =>
      specs.push({
        namespace: 'data',
        name: `postgres-${i}`,
        kind: 'StatefulSet',
        workload: 'postgres',
        node: nodes[nodeIdx]!,
        created: podsCreated - 2 * DAY + i * 60_000,
        deleted: Infinity,
        owner: refOf(sts),
        ports: [5432],
        labels: { app: 'postgres', 'statefulset.kubernetes.io/pod-name': `postgres-${i}` },
        slot: { workload: w, index: i },
      }),
    );
  }

  // monitoring/node-exporter DaemonSet: hostNetwork, hostPort 9100 on every node.
  {
    const ds = workloadObj('apps/v1', 'DaemonSet', 'node-exporter', 'monitoring', t0);
    const w: SimWorkload = { namespace: 'monitoring', kind: 'DaemonSet', name: 'node-exporter', slots: nodes.map(() => []) };
    workloads.set(wkey('monitoring', 'node-exporter'), w);
    nodes.forEach((n, i) =>
      specs.push({
        namespace: 'monitoring',
        name: `node-exporter-${rng.name(5)}`,
        kind: 'DaemonSet',
        workload: 'node-exporter',
        node: n,
        created: podsCreated - 3 * DAY + i * 30_000,
        deleted: Infinity,
        owner: refOf(ds),
        hostNetwork: true,
        hostPorts: [9100],
        ports: [9100],
        labels: { app: 'node-exporter' },
        slot: { workload: w, index: i },
      }),
    );
  }

  // batch/report-nightly CronJob -> Job per run -> one pod on the zone-c node, ~40 minutes.
  {
    const cj = workloadObj('batch/v1', 'CronJob', 'report-nightly', 'batch', t0);
    const w: SimWorkload = { namespace: 'batch', kind: 'CronJob', name: 'report-nightly', slots: [[]] };
    workloads.set(wkey('batch', 'report-nightly'), w);
    for (const run of allRuns) {
      const jobName = `report-nightly-${Math.floor(run / 60_000)}`;
      const job: Workload = { apiVersion: 'batch/v1', kind: 'Job', metadata: meta(jobName, 'batch', rng.uid(), run, { ownerReferences: [refOf(cj)], labels: { 'job-name': jobName } }) };
      emit('ADDED', job, run);
      const finished = run + 38 * 60_000 + rng.int(0, 240_000);
      const deleted = finished + 5 * 60_000; // ttlSecondsAfterFinished: 300
      emit('DELETED', { ...job, metadata: { ...job.metadata, deletionTimestamp: iso(deleted) } }, deleted + 1_000);
      specs.push({
        namespace: 'batch',
        name: `${jobName}-${rng.name(5)}`,
        kind: 'CronJob',
        workload: 'report-nightly',
        node: nodes[2]!,
        created: run + 2_000,
        deleted,
        finished,
        owner: refOf(job),
        ports: [],
        labels: { 'job-name': jobName },
        slot: { workload: w, index: 0 },
      });
    }
  }
  // The frontend rollout: a new ReplicaSet whose pods start before the old ones stop (maxSurge).
  if (rolloutAt !== Infinity) addDeploymentPods(frontend, [0, 1, 2], [8080], rolloutAt, Infinity);

  // --- IPAM in time order: lowest free host address of the node's /24 ------------------------
  type Op = { t: number; create: boolean; spec: PodSpec; pod?: SimPod };
  const ops: Op[] = [];
  for (const s of specs) {
    ops.push({ t: s.created, create: true, spec: s });
    if (s.deleted !== Infinity) ops.push({ t: s.deleted, create: false, spec: s });
  }
  ops.sort((a, b) => a.t - b.t || Number(a.create) - Number(b.create));
  const used = nodes.map(() => new Set<number>());
  const bySpec = new Map<PodSpec, SimPod>();
  const pods: SimPod[] = [];
  for (const op of ops) {
    const s = op.spec;
    if (op.create) {
      let ip = s.node.ip;
      let ip6 = s.node.ip6;
      if (!s.hostNetwork) {
        let h = 2;
        while (used[s.node.index]!.has(h)) h++;
        used[s.node.index]!.add(h);
        ip = `10.244.${s.node.index}.${h}`;
        ip6 = `fd00:10:244:${s.node.index + 1}::${h.toString(16)}`;
      }
      const pod: SimPod = {
        namespace: s.namespace,
        name: s.name,
        uid: rng.uid(),
        kind: s.kind,
        workload: s.workload,
        node: s.node,
        ip,
        ip6,
        hostNetwork: !!s.hostNetwork,
        hostPorts: s.hostPorts ?? [],
        created: s.created,
        deleted: s.deleted,
        owner: s.owner,
        ports: s.ports,
      };
      if (s.finished !== undefined) pod.finished = s.finished;
      bySpec.set(s, pod);
      pods.push(pod);
      if (s.slot) s.slot.workload.slots[s.slot.index]!.push(pod);
      emit('ADDED', podObject(pod, s.labels, 'Running'), pod.created);
      if (pod.finished !== undefined) emit('MODIFIED', podObject(pod, s.labels, 'Succeeded'), pod.finished);
    } else {
      const pod = bySpec.get(s)!;
      if (!pod.hostNetwork) used[s.node.index]!.delete(Number(pod.ip.split('.')[3]));
      const obj = podObject(pod, s.labels, pod.finished !== undefined ? 'Succeeded' : 'Running');
      obj.metadata.deletionTimestamp = iso(pod.deleted);
      emit('DELETED', obj, pod.deleted);
    }
  }
  // Old ReplicaSets are kept (revisionHistoryLimit); nothing else is deleted.
  events.sort((a, b) => a.time - b.time);
  return { nodes, pods, services, workloads, inventory: events, jobRuns, rolloutAt };
}

function podObject(p: SimPod, labels: Record<string, string>, phase: string): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: meta(p.name, p.namespace, p.uid, p.created, { labels: { ...labels }, ownerReferences: [{ ...p.owner }] }),
    spec: {
      nodeName: p.node.name,
      ...(p.hostNetwork ? { hostNetwork: true } : {}),
      containers: [
        {
          name: p.workload,
          ports: p.ports.map((port) => ({ containerPort: port, protocol: port === 9125 ? ('UDP' as const) : ('TCP' as const), ...(p.hostPorts.includes(port) ? { hostPort: port } : {}) })),
        },
      ],
    },
    status: { phase, podIP: p.ip, podIPs: [{ ip: p.ip }, { ip: p.ip6 }], hostIP: p.node.ip },
  };
}
