// The simulated cluster (libs/sim) loaded into a real kube-apiserver, for the end-to-end test
// with TOLLGATE_K8S_SOURCE=kube. The sim's inventory is a history (pods come and go over the
// run, IPs are reused); an apiserver holds a present. So every object that ever existed is
// created through the API as the cluster would hold it at the end of the run, with what
// controllers and kubelets would have written (owner references by the owners' new uids; pod
// IPs, phases and node addresses through the status subresource), and:
// - each object's creationTimestamp is set to the sim's (backdate: a list takes an object to
//   have held its addresses since its creation, and the run's flows lie in the past);
// - a pod that ended during the run (deleted, or a Job's pod that completed) is a finished pod,
//   phase Succeeded, its container terminated when the pod ended: the state the kubelet leaves a
//   pod in before it is removed. Its IP held from creation to then; later pods reuse it.
// Owners the sim deleted (Jobs after their TTL) stay, so their pods' chains resolve.
import { KubeApiError, type InventoryEvent, type KubeObject, type Pod } from '@tollgate/kube';
import { backdate, ObjectWriter, startTestCluster, type Created, type TestCluster } from '@tollgate/kube/testkit';

export interface SimLoad {
  /** Objects created, by kind. */
  created: Record<string, number>;
  /** Pods that ended during the run (loaded finished). */
  finishedPods: number;
  /** Sim uid -> the uid the apiserver gave the object. */
  uids: Map<string, string>;
}

interface Final {
  object: KubeObject;
  /** Pods: when it stopped holding its IP (finished or deleted), ms; Infinity if it runs. */
  ended: number;
}

/** The last state of every object of the history, and when each pod ended. */
export function finalObjects(inventory: readonly InventoryEvent[]): Final[] {
  const byUid = new Map<string, Final>();
  for (const e of [...inventory].sort((a, b) => a.time - b.time)) {
    const uid = e.object.metadata.uid;
    const cur = byUid.get(uid);
    const phase = e.object.kind === 'Pod' ? e.object.status?.phase : undefined;
    const stops = e.type === 'DELETED' || phase === 'Succeeded' || phase === 'Failed';
    const ended = Math.min(cur?.ended ?? Infinity, stops && e.object.kind === 'Pod' ? e.time : Infinity);
    byUid.set(uid, { object: e.type === 'DELETED' && cur ? cur.object : e.object, ended });
  }
  return [...byUid.values()];
}

// Creation order: owners before what they own, nodes before pods.
const RANK: Record<string, number> = { Namespace: 0, Node: 1, Service: 2, Deployment: 3, StatefulSet: 3, DaemonSet: 3, CronJob: 3, ReplicaSet: 4, Job: 4, Pod: 5 };
const IMAGE = 'registry.k8s.io/pause:3.10';
/** RFC 3339 to the second, rounded up: a pod holds its IP at least until it ended. */
const isoCeil = (ms: number) => new Date(Math.ceil(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');

/**
 * A private, empty kube-apiserver + etcd that stores JSON (so backdate can edit objects), on
 * KUBE_APISERVER_PORT + 130 (the shared one keeps its own objects; this one holds the sim's
 * alone). Stop it with stop().
 */
export function startSimCluster(env: NodeJS.ProcessEnv): TestCluster {
  const port = Number(env.KUBE_APISERVER_PORT || 16443) + 130;
  return startTestCluster({ env, privateName: 'sim', port, storageMediaType: 'application/json', fresh: true });
}

/** Loads the simulated cluster's history into the apiserver (the cluster must store JSON: see backdate). */
export async function loadSimCluster(cluster: Pick<TestCluster, 'admin' | 'etcdUrl'>, inventory: readonly InventoryEvent[]): Promise<SimLoad> {
  const w = new ObjectWriter(cluster.admin);
  const objects = finalObjects(inventory).sort((a, b) => (RANK[a.object.kind] ?? 9) - (RANK[b.object.kind] ?? 9) || Date.parse(a.object.metadata.creationTimestamp ?? '') - Date.parse(b.object.metadata.creationTimestamp ?? ''));
  const load: SimLoad = { created: {}, finishedPods: 0, uids: new Map() };
  const namespaces = new Set(objects.map((o) => o.object.metadata.namespace).filter((n): n is string => n !== undefined && n !== 'default'));
  for (const ns of namespaces) await w.namespace(ns);
  for (const { object: o, ended } of objects) {
    const m = o.metadata;
    const metadata = {
      name: m.name,
      namespace: m.namespace,
      labels: m.labels,
      ownerReferences: m.ownerReferences?.map((r) => ({ apiVersion: r.apiVersion ?? 'v1', kind: r.kind, name: r.name, uid: load.uids.get(r.uid) ?? assertNever(`${o.kind} ${m.name}: owner ${r.kind} ${r.name} not loaded`), controller: r.controller })),
    };
    let made: Created;
    switch (o.kind) {
      case 'Node': {
        made = await w.create('Node', { metadata, spec: o.spec });
        await w.status(`/api/v1/nodes/${m.name}`, { status: o.status });
        break;
      }
      case 'Service':
        made = await createOrAdopt(w, 'Service', { metadata, spec: o.spec });
        break;
      case 'Pod': {
        made = await w.create('Pod', { metadata, spec: { ...o.spec, containers: o.spec.containers.map((c) => ({ ...c, image: IMAGE })) } });
        await w.status(`/api/v1/namespaces/${m.namespace}/pods/${m.name}`, { status: podStatus(o, ended) });
        if (ended !== Infinity) load.finishedPods++;
        break;
      }
      case 'Namespace':
        made = await createOrAdopt(w, 'Namespace', { metadata });
        break;
      default:
        made = await w.create(o.kind, { metadata });
    }
    if (m.creationTimestamp) await backdate(cluster, made, m.creationTimestamp);
    load.uids.set(m.uid, made.uid);
    load.created[o.kind] = (load.created[o.kind] ?? 0) + 1;
  }
  return load;
}

function podStatus(p: Pod, ended: number): Pod['status'] & Record<string, unknown> {
  const { podIP, podIPs, hostIP } = p.status;
  if (ended === Infinity) return { phase: 'Running', podIP, podIPs, hostIP };
  const terminated = { exitCode: 0, reason: 'Completed', startedAt: p.metadata.creationTimestamp, finishedAt: isoCeil(ended) };
  return {
    phase: 'Succeeded',
    podIP,
    podIPs,
    hostIP,
    containerStatuses: p.spec.containers.map((c) => ({ name: c.name, image: IMAGE, imageID: '', ready: false, restartCount: 0, started: false, state: { terminated } })),
  };
}

/** Takes the object the apiserver made itself (default/kubernetes), else creates it. */
async function createOrAdopt(w: ObjectWriter, kind: string, obj: Parameters<ObjectWriter['create']>[1]): Promise<Created> {
  const { name, namespace } = obj.metadata;
  const path = kind === 'Service' ? `/api/v1/namespaces/${namespace}/services/${name}` : `/api/v1/namespaces/${name}`;
  try {
    const got = await w.client.request<{ metadata: { uid: string } }>('GET', path);
    return { kind, name, namespace, uid: got.metadata.uid };
  } catch (err) {
    if (!(err instanceof KubeApiError && err.status === 404)) throw err;
    return w.create(kind, obj);
  }
}

function assertNever(why: string): never {
  throw new Error(`loadSimCluster: ${why}`);
}
