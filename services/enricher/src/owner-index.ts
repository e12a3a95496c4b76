// The time-aware owner index (DESIGN.md section 3): IP -> pod / node / Service at a given time,
// pod -> top owner (Pod -> ReplicaSet -> Deployment, Pod -> Job -> CronJob, StatefulSet,
// DaemonSet, bare Pod), node -> zone / region / cloud.
//
// IPs are reused, and inventory events may arrive before the flows they explain (a replayed
// inventory delivers everything up front) or after them, so every IP keeps the intervals
// during which objects held it: [first seen with the IP, deletion or termination + grace).
// A lookup at time t returns the holder whose interval covers t and started last.
//
// Memory: only what lookups need is kept (names, the controller owner reference, node, host
// ports, intervals), never whole objects; owner objects keep kind, name and their own
// controller reference (15k ReplicaSets are a few MB).
import type { InventoryEvent, Namespace, Node, ObjectMeta, OwnerReference, Pod, Service, Workload } from '@tollgate/kube';
import { REGION_LABEL, ZONE_LABEL } from '@tollgate/kube';
import { canonicalIp, parseCidr, parseIp, PrefixTrie, type Ip } from './ip.ts';

/** The fields of an Endpoint that come from the inventory (ip, port and cluster come from the flow). */
export interface EndpointInfo {
  readonly kind: 'POD' | 'NODE' | 'SERVICE';
  readonly namespace: string;
  readonly workload_kind: string;
  readonly workload: string;
  readonly pod: string;
  readonly node: string;
  readonly zone: string;
  readonly region: string;
  /** Chargeback labels (TOLLGATE_CHARGEBACK_LABELS): per key the pod's own value, else its namespace's. */
  readonly labels: Readonly<Record<string, string>>;
  /** Not a known object: an address of the reporting node's pod CIDR, or the node standing in for an unknown local side. */
  readonly unresolved?: boolean;
}

const NO_LABELS: Readonly<Record<string, string>> = Object.freeze({});

interface Base {
  readonly uid: string;
  name: string;
  deletedAt: number;
  /** Time of the newest event applied (older events only widen intervals). */
  lastTime: number;
  info: EndpointInfo | undefined;
  infoGen: number;
  /** The enricher's per-batch endpoint dictionary: the batch that listed this target, and where. */
  epSeq: number;
  epIdx: number;
}

export interface PodTarget extends Base {
  readonly type: 'POD';
  namespace: string;
  node: string;
  owner: OwnerReference | undefined;
  hostNetwork: boolean;
  /** IPs (non-hostNetwork) or host-port keys (hostNetwork) this pod claimed. */
  ips: string[];
  ports: number[];
  terminated: boolean;
  /** The pod's chargeback labels (allow-listed), or undefined if it has none of them. */
  labels: Record<string, string> | undefined;
}

export interface NodeTarget extends Base {
  readonly type: 'NODE';
  zone: string;
  region: string;
  cloud: string;
  ips: string[];
  /** spec.podCIDRs: an unknown address in them is a pod of this node the index has not seen. */
  podCidrs: PrefixTrie<true> | undefined;
  /** Stand-ins for unknown local pods (one per node). */
  unknownPod: PodTarget | undefined;
  /** The node standing in for an unknown local side (its info is flagged unresolved). */
  unknownSide: NodeTarget | undefined;
  /** On a stand-in: the node it stands for. */
  standIn?: string;
}

export interface ServiceTarget extends Base {
  readonly type: 'SERVICE';
  namespace: string;
  ips: string[];
  /** `namespace/name`, built once (records carry it as their `service`). */
  ref?: string;
}

export type Target = PodTarget | NodeTarget | ServiceTarget;

interface Holder {
  start: number;
  end: number;
  readonly target: Target;
}

interface OwnerRec {
  kind: string;
  name: string;
  owner: OwnerReference | undefined;
  deletedAt: number;
}

const WORKLOAD_KINDS = new Set(['ReplicaSet', 'Deployment', 'StatefulSet', 'DaemonSet', 'Job', 'CronJob']);

export const PROTO_TCP = 6;
const PROTOCOLS: Record<string, number> = { TCP: 6, UDP: 17, SCTP: 132 };
const portKey = (proto: number, port: number): number => proto * 65536 + port;

/** aws:// gce:// azure:// -> aws gcp azure. */
export function cloudFromProviderId(providerId: string | undefined): string {
  if (!providerId) return '';
  if (providerId.startsWith('aws://')) return 'aws';
  if (providerId.startsWith('gce://')) return 'gcp';
  if (providerId.startsWith('azure://')) return 'azure';
  return '';
}

/** When the last of a finished pod's containers finished (status.containerStatuses), ms; undefined if no status says. */
function finishedAt(pod: Pod): number | undefined {
  let last: number | undefined;
  for (const c of pod.status?.containerStatuses ?? []) {
    const t = Date.parse(c.state?.terminated?.finishedAt ?? '');
    if (Number.isFinite(t) && (last === undefined || t > last)) last = t;
  }
  return last;
}

function controllerOf(meta: ObjectMeta): OwnerReference | undefined {
  const refs = meta.ownerReferences;
  if (!refs || refs.length === 0) return undefined;
  const r = refs.find((x) => x.controller) ?? refs[0]!;
  return { kind: r.kind, name: r.name, uid: r.uid };
}

const sameRef = (a: OwnerReference | undefined, b: OwnerReference | undefined): boolean =>
  a === b || (a !== undefined && b !== undefined && a.uid === b.uid && a.kind === b.kind && a.name === b.name);

export interface OwnerIndexOptions {
  /** How long a deleted (or finished) pod keeps its IP, ms (TOLLGATE_POD_GRACE_MS). */
  podGraceMs: number;
  /** Pod (or namespace) labels carried on records (TOLLGATE_CHARGEBACK_LABELS). */
  chargebackLabels?: readonly string[];
}

function pick(labels: Record<string, string> | undefined, keys: readonly string[]): Record<string, string> | undefined {
  if (!labels || keys.length === 0) return undefined;
  let out: Record<string, string> | undefined;
  for (const k of keys) {
    const v = labels[k];
    if (v !== undefined) (out ??= {})[k] = v;
  }
  return out;
}

const sameLabels = (a: Record<string, string> | undefined, b: Record<string, string> | undefined): boolean => {
  if (a === b) return true;
  if (!a || !b) return false;
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => a[k] === b[k]);
};

export class OwnerIndex {
  private readonly grace: number;
  private readonly byIp = new Map<string, Holder[]>();
  /** hostNetwork pods: node name -> protocol/port key -> holders. */
  private readonly hostPorts = new Map<string, Map<number, Holder[]>>();
  private readonly pods = new Map<string, PodTarget>();
  private readonly nodes = new Map<string, NodeTarget>(); // by uid
  private readonly nodesByName = new Map<string, NodeTarget>();
  private readonly services = new Map<string, ServiceTarget>();
  private readonly owners = new Map<string, OwnerRec>();
  /** Namespace name -> its chargeback labels. */
  private readonly nsLabels = new Map<string, Record<string, string>>();
  private readonly labelKeys: readonly string[];
  /** Bumped when an owner chain or a node's zone changes: cached EndpointInfo is then recomputed. */
  private gen = 0;
  events = 0;

  constructor(opts: OwnerIndexOptions) {
    this.grace = opts.podGraceMs;
    this.labelKeys = opts.chargebackLabels ?? [];
  }

  apply(e: InventoryEvent): void {
    this.events++;
    const o = e.object;
    switch (o.kind) {
      case 'Pod':
        return this.applyPod(e.type, o, e.time);
      case 'Node':
        return this.applyNode(e.type, o, e.time);
      case 'Service':
        return this.applyService(e.type, o, e.time);
      case 'Namespace':
        return this.applyNamespace(e.type, o);
      default:
        if (WORKLOAD_KINDS.has(o.kind)) this.applyWorkload(e.type, o, e.time);
    }
  }

  // ---- intervals ----

  private claim(list: Holder[] | undefined, target: Target, t: number): Holder[] {
    const l = list ?? [];
    for (const h of l) {
      if (h.target === target) {
        if (t < h.start) h.start = t;
        return l;
      }
    }
    l.push({ start: t, end: target.deletedAt === Infinity ? Infinity : target.deletedAt + this.grace, target });
    return l;
  }

  private static release(list: Holder[] | undefined, target: Target, end: number): void {
    if (!list) return;
    for (const h of list) if (h.target === target && end < h.end) h.end = end;
  }

  private claimIp(ip: string, target: Target, t: number): void {
    const l = this.byIp.get(ip);
    const n = this.claim(l, target, t);
    if (!l) this.byIp.set(ip, n);
  }

  private hostPortMap(node: string): Map<number, Holder[]> {
    let m = this.hostPorts.get(node);
    if (!m) this.hostPorts.set(node, (m = new Map()));
    return m;
  }

  /**
   * Brings a target's claimed keys to `now` (the keys it holds per this event): new keys are
   * claimed from t; keys it no longer holds end at t + grace (not for an older event).
   */
  private reconcile(target: Target, held: string[], now: string[], t: number, stale: boolean): string[] {
    for (const ip of now) this.claimIp(ip, target, t);
    if (stale) return held.concat(now.filter((x) => !held.includes(x)));
    for (const ip of held) if (!now.includes(ip)) OwnerIndex.release(this.byIp.get(ip), target, t + this.grace);
    return now;
  }

  // ---- objects ----

  private base(meta: ObjectMeta, t: number): Omit<Base, never> {
    return { uid: meta.uid, name: meta.name, deletedAt: Infinity, lastTime: t, info: undefined, infoGen: -1, epSeq: 0, epIdx: 0 };
  }

  private applyPod(type: InventoryEvent['type'], pod: Pod, t: number): void {
    const meta = pod.metadata;
    let rec = this.pods.get(meta.uid);
    const fresh = rec === undefined;
    const stale = rec !== undefined && t < rec.lastTime;
    if (!rec) {
      rec = { ...this.base(meta, t), type: 'POD', namespace: meta.namespace ?? '', node: '', owner: undefined, hostNetwork: false, ips: [], ports: [], terminated: false, labels: undefined };
      this.pods.set(meta.uid, rec);
    }
    // A deletion (a watch's last state, or a relist's report of a vanished object, which has
    // only its identity) ends the intervals and changes nothing else.
    if (!stale && type !== 'DELETED') {
      rec.lastTime = t;
      rec.name = meta.name;
      rec.namespace = meta.namespace ?? '';
      const node = pod.spec?.nodeName ?? '';
      const owner = controllerOf(meta);
      if (node !== rec.node || !sameRef(owner, rec.owner)) rec.info = undefined;
      if (node) rec.node = node;
      rec.owner = owner;
      rec.hostNetwork = pod.spec?.hostNetwork === true;
      const labels = pick(meta.labels, this.labelKeys);
      if (!sameLabels(labels, rec.labels)) {
        rec.labels = labels;
        rec.info = undefined;
      }
    }
    if (type === 'DELETED') {
      if (t < rec.deletedAt) rec.deletedAt = t;
      this.releaseAll(rec, t + this.grace);
      return;
    }
    const phase = pod.status?.phase;
    if (phase === 'Succeeded' || phase === 'Failed') {
      // A finished pod's IP goes back to the pool while the object stays (Job pods). One seen
      // for the first time already finished (a list long after it ran) held its addresses from
      // the event's time (its creation, for the initial list) until its containers finished.
      if (!stale && !rec.terminated) {
        const ended = finishedAt(pod);
        if (fresh && ended !== undefined) this.claimAddresses(rec, pod, t, false);
        rec.terminated = true;
        this.releaseAll(rec, (ended ?? t) + this.grace);
      }
      return;
    }
    if (rec.terminated && !stale) return;
    this.claimAddresses(rec, pod, t, stale);
  }

  /** Claims the pod's addresses from t: its host ports (hostNetwork) or its IPs. */
  private claimAddresses(rec: PodTarget, pod: Pod, t: number, stale: boolean): void {
    if (rec.hostNetwork) {
      if (!rec.node) return;
      const m = this.hostPortMap(rec.node);
      const keys: number[] = [];
      for (const c of pod.spec?.containers ?? []) {
        for (const p of c.ports ?? []) if (p.hostPort) keys.push(portKey(PROTOCOLS[p.protocol ?? 'TCP'] ?? PROTO_TCP, p.hostPort));
      }
      for (const k of keys) {
        const l = m.get(k);
        const n = this.claim(l, rec, t);
        if (!l) m.set(k, n);
      }
      if (!stale) for (const k of rec.ports) if (!keys.includes(k)) OwnerIndex.release(m.get(k), rec, t + this.grace);
      rec.ports = stale ? [...new Set([...rec.ports, ...keys])] : keys;
      return;
    }
    if (!rec.node) return; // not scheduled: no IP yet
    const ips: string[] = [];
    const add = (s: string | undefined) => {
      const c = s ? canonicalIp(s) : undefined;
      if (c && !ips.includes(c)) ips.push(c);
    };
    add(pod.status?.podIP);
    for (const x of pod.status?.podIPs ?? []) add(x.ip);
    rec.ips = this.reconcile(rec, rec.ips, ips, t, stale);
  }

  private releaseAll(rec: PodTarget, end: number): void {
    for (const ip of rec.ips) OwnerIndex.release(this.byIp.get(ip), rec, end);
    if (rec.ports.length && rec.node) {
      const m = this.hostPortMap(rec.node);
      for (const k of rec.ports) OwnerIndex.release(m.get(k), rec, end);
    }
  }

  private applyNode(type: InventoryEvent['type'], node: Node, t: number): void {
    const meta = node.metadata;
    let rec = this.nodes.get(meta.uid);
    const stale = rec !== undefined && t < rec.lastTime;
    if (!rec) {
      rec = { ...this.base(meta, t), type: 'NODE', zone: '', region: '', cloud: '', ips: [], podCidrs: undefined, unknownPod: undefined, unknownSide: undefined };
      this.nodes.set(meta.uid, rec);
    }
    if (!stale && type !== 'DELETED') {
      rec.lastTime = t;
      const zone = meta.labels?.[ZONE_LABEL] ?? '';
      const region = meta.labels?.[REGION_LABEL] ?? '';
      const cloud = cloudFromProviderId(node.spec?.providerID);
      if (zone !== rec.zone || region !== rec.region || cloud !== rec.cloud || meta.name !== rec.name) {
        rec.zone = zone;
        rec.region = region;
        rec.cloud = cloud;
        rec.name = meta.name;
        rec.info = undefined;
        this.gen++;
      }
      const cur = this.nodesByName.get(meta.name);
      if (!cur || cur === rec || cur.lastTime <= t) this.nodesByName.set(meta.name, rec);
      const cidrs = [...(node.spec?.podCIDRs ?? []), ...(node.spec?.podCIDR ? [node.spec.podCIDR] : [])];
      let trie: PrefixTrie<true> | undefined;
      for (const c of cidrs) {
        const p = parseCidr(c);
        if (p) (trie ??= new PrefixTrie<true>()).insert(p, true);
      }
      rec.podCidrs = trie;
    }
    if (type === 'DELETED') {
      if (t < rec.deletedAt) rec.deletedAt = t;
      for (const ip of rec.ips) OwnerIndex.release(this.byIp.get(ip), rec, t + this.grace);
      return;
    }
    const ips: string[] = [];
    for (const a of node.status?.addresses ?? []) {
      if (a.type !== 'InternalIP' && a.type !== 'ExternalIP') continue;
      const c = canonicalIp(a.address);
      if (c && !ips.includes(c)) ips.push(c);
    }
    rec.ips = this.reconcile(rec, rec.ips, ips, t, stale);
  }

  private applyService(type: InventoryEvent['type'], svc: Service, t: number): void {
    const meta = svc.metadata;
    let rec = this.services.get(meta.uid);
    const stale = rec !== undefined && t < rec.lastTime;
    if (!rec) {
      rec = { ...this.base(meta, t), type: 'SERVICE', namespace: meta.namespace ?? '', ips: [] };
      this.services.set(meta.uid, rec);
    }
    if (!stale) rec.lastTime = t;
    if (type === 'DELETED') {
      if (t < rec.deletedAt) rec.deletedAt = t;
      for (const ip of rec.ips) OwnerIndex.release(this.byIp.get(ip), rec, t + this.grace);
      return;
    }
    const ips: string[] = [];
    for (const s of [svc.spec?.clusterIP, ...(svc.spec?.clusterIPs ?? [])]) {
      const c = s && s !== 'None' ? canonicalIp(s) : undefined;
      if (c && !ips.includes(c)) ips.push(c);
    }
    rec.ips = this.reconcile(rec, rec.ips, ips, t, stale);
  }

  private applyNamespace(type: InventoryEvent['type'], ns: Namespace): void {
    const labels = type === 'DELETED' ? undefined : pick(ns.metadata.labels, this.labelKeys);
    if (sameLabels(labels, this.nsLabels.get(ns.metadata.name))) return;
    if (labels) this.nsLabels.set(ns.metadata.name, labels);
    else this.nsLabels.delete(ns.metadata.name);
    this.gen++;
  }

  private applyWorkload(type: InventoryEvent['type'], w: Workload, t: number): void {
    const meta = w.metadata;
    const cur = this.owners.get(meta.uid);
    if (type === 'DELETED') {
      if (cur) cur.deletedAt = Math.min(cur.deletedAt, t);
      else this.owners.set(meta.uid, { kind: w.kind, name: meta.name, owner: controllerOf(meta), deletedAt: t });
      return;
    }
    const owner = controllerOf(meta);
    if (cur && cur.kind === w.kind && cur.name === meta.name && sameRef(cur.owner, owner)) return; // status churn
    this.owners.set(meta.uid, { kind: w.kind, name: meta.name, owner, deletedAt: cur?.deletedAt ?? Infinity });
    this.gen++;
  }

  // ---- lookups ----

  /**
   * The pod (non-hostNetwork), node or Service that held canonical `ip` at time t; if none
   * did, the first one that took it after t and no later than `until` (a flow of a pod
   * whose IP was assigned within the flow's window).
   */
  lookupIp(ip: string, t: number, until: number = t): Target | undefined {
    const l = this.byIp.get(ip);
    if (l === undefined) return undefined;
    let best: Holder | undefined;
    let later: Holder | undefined;
    for (let i = 0; i < l.length; i++) {
      const h = l[i]!;
      if (h.start <= t) {
        if (t < h.end && (best === undefined || h.start > best.start)) best = h;
      } else if (h.start <= until && (later === undefined || h.start < later.start)) later = h;
    }
    return (best ?? later)?.target;
  }

  /** The hostNetwork pod on `node` that declares host port `port`/`protocol` at time t. */
  hostPortPod(node: string, port: number, protocol: number, t: number): PodTarget | undefined {
    const l = this.hostPorts.get(node)?.get(portKey(protocol, port));
    if (l === undefined) return undefined;
    let best: Holder | undefined;
    for (const h of l) if (h.start <= t && t < h.end && (best === undefined || h.start > best.start)) best = h;
    return best?.target as PodTarget | undefined;
  }

  node(name: string): NodeTarget | undefined {
    return this.nodesByName.get(name);
  }

  /**
   * For an address the index does not know: if it is in node `name`'s pod CIDR, the stand-in
   * for that node's unknown pods (kind POD, workload unknown, the node's zone), else undefined.
   */
  unknownLocalPod(name: string, ip: string | Ip): PodTarget | undefined {
    const n = this.nodesByName.get(name);
    if (!n?.podCidrs) return undefined;
    const parsed = typeof ip === 'string' ? parseIp(ip) : ip;
    if (!parsed || n.podCidrs.lookup(parsed) !== true) return undefined;
    n.unknownPod ??= { uid: '', name: '', deletedAt: Infinity, lastTime: 0, info: undefined, infoGen: -1, epSeq: 0, epIdx: 0, type: 'POD', namespace: '', node: name, owner: undefined, hostNetwork: false, ips: [], ports: [], terminated: false, labels: undefined };
    return n.unknownPod;
  }

  /** The node as the stand-in for a local side the index cannot place (flagged unresolved). */
  unknownLocalNode(n: NodeTarget): NodeTarget {
    n.unknownSide ??= { ...n, uid: '', info: undefined, infoGen: -1, epSeq: 0, epIdx: 0, ips: [], podCidrs: undefined, unknownPod: undefined, unknownSide: undefined, standIn: n.name };
    // Track the node's zone as it changes.
    n.unknownSide.zone = n.zone;
    n.unknownSide.region = n.region;
    return n.unknownSide;
  }

  /** Nodes known, and how many carry a zone label (none: every in-cluster byte looks same-zone). */
  zoneCoverage(): { nodes: number; zoned: number } {
    let zoned = 0;
    for (const n of this.nodesByName.values()) if (n.zone) zoned++;
    return { nodes: this.nodesByName.size, zoned };
  }

  /** Namespace, top owner, node, zone and region of a target (cached until owners or nodes change). */
  info(target: Target): EndpointInfo {
    if (target.info !== undefined && target.infoGen === this.gen) return target.info;
    let info: EndpointInfo;
    if (target.type === 'POD') {
      const n = this.nodesByName.get(target.node);
      if (target.uid === '') {
        // The stand-in for pods of this node's CIDR that the index has not seen: workload unknown.
        info = { kind: 'POD', namespace: '', workload_kind: '', workload: '', pod: '', node: target.node, zone: n?.zone ?? '', region: n?.region ?? '', labels: NO_LABELS, unresolved: true };
      } else {
        const [kind, name] = this.topOwner(target);
        // Per key: the pod's own value, else its namespace's.
        const ns = this.nsLabels.get(target.namespace);
        const labels = ns && target.labels ? { ...ns, ...target.labels } : (target.labels ?? ns ?? NO_LABELS);
        info = { kind: 'POD', namespace: target.namespace, workload_kind: kind, workload: name, pod: target.name, node: target.node, zone: n?.zone ?? '', region: n?.region ?? '', labels };
      }
    } else if (target.type === 'NODE') {
      info = { kind: 'NODE', namespace: '', workload_kind: 'Node', workload: target.name, pod: '', node: target.name, zone: target.zone, region: target.region, labels: NO_LABELS, unresolved: target.standIn !== undefined || undefined };
    } else {
      info = { kind: 'SERVICE', namespace: target.namespace, workload_kind: 'Service', workload: target.name, pod: '', node: '', zone: '', region: '', labels: NO_LABELS };
    }
    target.info = info;
    target.infoGen = this.gen;
    return info;
  }

  private topOwner(pod: PodTarget): [string, string] {
    let ref = pod.owner;
    if (!ref || ref.kind === 'Node') return ['Pod', pod.name]; // bare pod, or a static (mirror) pod
    // Owners may not have arrived yet: the chain stops at the last reference known.
    for (let depth = 0; depth < 8; depth++) {
      const o = this.owners.get(ref.uid);
      if (!o) return [ref.kind, ref.name];
      if (!o.owner) return [o.kind, o.name];
      ref = o.owner;
    }
    return [ref.kind, ref.name];
  }

  /**
   * Forgets what no flow at or after `before` can match: intervals that ended earlier, and
   * deleted objects whose intervals are all gone.
   */
  prune(before: number): void {
    const sweep = (l: Holder[]): Holder[] => l.filter((h) => h.end >= before);
    for (const [ip, l] of this.byIp) {
      const k = sweep(l);
      if (k.length === 0) this.byIp.delete(ip);
      else if (k.length !== l.length) this.byIp.set(ip, k);
    }
    for (const [node, m] of this.hostPorts) {
      for (const [key, l] of m) {
        const k = sweep(l);
        if (k.length === 0) m.delete(key);
        else if (k.length !== l.length) m.set(key, k);
      }
      if (m.size === 0) this.hostPorts.delete(node);
    }
    const gone = (deletedAt: number) => deletedAt + this.grace < before;
    for (const [uid, p] of this.pods) if (gone(p.deletedAt)) this.pods.delete(uid);
    for (const [uid, s] of this.services) if (gone(s.deletedAt)) this.services.delete(uid);
    for (const [uid, n] of this.nodes) if (gone(n.deletedAt)) this.nodes.delete(uid);
    for (const [uid, o] of this.owners) if (gone(o.deletedAt)) this.owners.delete(uid);
  }

  size(): { ips: number; pods: number; nodes: number; services: number; owners: number; namespaces: number } {
    return { ips: this.byIp.size, pods: this.pods.size, nodes: this.nodes.size, services: this.services.size, owners: this.owners.size, namespaces: this.nsLabels.size };
  }
}
