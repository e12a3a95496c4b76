// Tests and the benchmark against a real kube-apiserver with etcd (infra/kube/kube.sh): starts
// them unless running (the binary must be built: .ci/setup.d/30-kube.sh does it in CI), and gives
// clients for the identities the script provisions: admin (system:masters), tollgate-enricher
// (no groups: the tests bind it to infra/k8s/enricher-rbac.yaml's ClusterRole) and nobody.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { KubeClient, KubeApiError } from './client.ts';

export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const KUBE_SCRIPT = join(REPO_ROOT, 'infra/kube/kube.sh');

export interface TestCluster {
  readonly dir: string;
  readonly url: string;
  readonly port: number;
  /** etcd's client URL (its v3 JSON gateway): see backdate(). */
  readonly etcdUrl: string;
  readonly admin: KubeClient;
  readonly enricher: KubeClient;
  readonly nobody: KubeClient;
  kubeconfig(user: 'admin' | 'enricher' | 'nobody'): string;
  /** Restart the apiserver (etcd keeps running): for resume tests on a private cluster. */
  restartApiserver(): void;
  stopApiserver(): void;
  startApiserver(): void;
  /** Stops a private cluster (the shared one is left running, like the shared Kafka broker). */
  stop(): void;
}

export interface ClusterOptions {
  /** Environment of the script (TOLLGATE_CACHE, TOLLGATE_KUBE_APISERVER_BIN, ...). */
  env: NodeJS.ProcessEnv;
  /** A cluster of its own (own etcd, apiserver, port and state dir), e.g. to restart it. */
  privateName?: string;
  port?: number;
  /** The apiserver's --storage-media-type for a private cluster (application/json: backdate() can edit objects). */
  storageMediaType?: string;
  /** A private cluster starts empty: one left running by an earlier run is stopped (its etcd data removed) first. */
  fresh?: boolean;
}

function run(env: NodeJS.ProcessEnv, ...args: string[]): string {
  return execFileSync('bash', [KUBE_SCRIPT, ...args], { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
}

/**
 * Why the real apiserver cannot run here, or undefined if it can. Tests skip with this message
 * locally; in CI (CI=true) they must fail instead.
 */
export function clusterUnavailable(env: NodeJS.ProcessEnv): string | undefined {
  try {
    const bin = run(env, 'bin').trim();
    if (!existsSync(bin)) return `kube-apiserver is not built (${bin}): run 'bash infra/kube/kube.sh build' (4-8 min once)`;
    execFileSync('sh', ['-c', 'command -v etcd'], { stdio: 'ignore' });
  } catch {
    return 'etcd is not installed (apt-get install etcd-server)';
  }
  return undefined;
}

export function startTestCluster(opts: ClusterOptions): TestCluster {
  const env: NodeJS.ProcessEnv = { ...opts.env };
  const shared = opts.privateName === undefined;
  if (!shared) {
    const port = opts.port ?? 16543;
    env.KUBE_APISERVER_PORT = String(port);
    env.KUBE_ETCD_PORT = String(port - 4000 + 100);
    env.TOLLGATE_KUBE_DIR = join(REPO_ROOT, '.tollgate', `kube-${opts.privateName}`);
    if (opts.storageMediaType) env.KUBE_STORAGE_MEDIA_TYPE = opts.storageMediaType;
    if (opts.fresh) run(env, 'stop');
  }
  run(env, 'ensure');
  const vars = Object.fromEntries(
    run(env, 'env')
      .trim()
      .split('\n')
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  ) as Record<string, string>;
  const dir = vars.TOLLGATE_KUBE_DIR!;
  const url = vars.TOLLGATE_KUBE_URL!;
  const kubeconfig = (u: 'admin' | 'enricher' | 'nobody') => join(dir, `${u}.kubeconfig`);
  return {
    dir,
    url,
    port: Number(new URL(url).port),
    etcdUrl: vars.TOLLGATE_KUBE_ETCD_URL!,
    admin: KubeClient.fromFile(kubeconfig('admin')),
    enricher: KubeClient.fromFile(kubeconfig('enricher')),
    nobody: KubeClient.fromFile(kubeconfig('nobody')),
    kubeconfig,
    restartApiserver: () => void run(env, 'restart-apiserver'),
    stopApiserver: () => void run(env, 'stop', '--apiserver-only'),
    startApiserver: () => void run(env, 'start'),
    stop: () => {
      if (!shared) run(env, 'stop');
    },
  };
}

/** The admin token (for tools such as kubectl in tests). */
export const tokenOf = (cluster: TestCluster, user: 'admin' | 'enricher' | 'nobody'): string =>
  readFileSync(join(cluster.dir, 'pki', `${user}.token`), 'utf8').trim();

// ---- writing objects as a test (no controllers run: owners, IPs and phases are set by hand) ----

type Obj = Record<string, unknown> & { metadata: { name: string; namespace?: string; labels?: Record<string, string>; ownerReferences?: unknown[] } };

const PATHS: Record<string, (ns?: string) => string> = {
  Namespace: () => '/api/v1/namespaces',
  Node: () => '/api/v1/nodes',
  Pod: (ns) => `/api/v1/namespaces/${ns}/pods`,
  Service: (ns) => `/api/v1/namespaces/${ns}/services`,
  ReplicaSet: (ns) => `/apis/apps/v1/namespaces/${ns}/replicasets`,
  Deployment: (ns) => `/apis/apps/v1/namespaces/${ns}/deployments`,
  StatefulSet: (ns) => `/apis/apps/v1/namespaces/${ns}/statefulsets`,
  DaemonSet: (ns) => `/apis/apps/v1/namespaces/${ns}/daemonsets`,
  Job: (ns) => `/apis/batch/v1/namespaces/${ns}/jobs`,
  CronJob: (ns) => `/apis/batch/v1/namespaces/${ns}/cronjobs`,
};
const API_VERSION: Record<string, string> = { ReplicaSet: 'apps/v1', Deployment: 'apps/v1', StatefulSet: 'apps/v1', DaemonSet: 'apps/v1', Job: 'batch/v1', CronJob: 'batch/v1' };

export interface Created {
  kind: string;
  name: string;
  namespace?: string;
  uid: string;
}

const selector = { matchLabels: { app: 'x' } };
const template = { metadata: { labels: { app: 'x' } }, spec: { containers: [{ name: 'c', image: 'busybox' }] } };

/** Where the apiserver keeps each kind in etcd (its default --etcd-prefix /registry). */
const ETCD_RESOURCE: Record<string, string> = {
  Namespace: 'namespaces',
  Node: 'minions',
  Pod: 'pods',
  Service: 'services/specs',
  ReplicaSet: 'replicasets',
  Deployment: 'deployments',
  StatefulSet: 'statefulsets',
  DaemonSet: 'daemonsets',
  Job: 'jobs',
  CronJob: 'cronjobs',
};

const b64 = (s: string | Buffer) => Buffer.from(s).toString('base64');

async function etcd<T>(url: string, op: string, body: unknown): Promise<T> {
  const res = await fetch(`${url}/v3/kv/${op}`, { method: 'POST', body: JSON.stringify(body) });
  if (!res.ok) throw new Error(`etcd ${op}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

/**
 * Sets an object's creationTimestamp, the one field the apiserver never takes from a client
 * (it stamps its own clock on create and keeps it on update), by editing the stored object in
 * etcd; the apiserver's watch serves the change like any update. A test that loads a cluster's
 * history needs it: the enricher takes a listed object to have held its addresses since its
 * creation. Needs a private cluster storing JSON (storageMediaType 'application/json').
 */
export async function backdate(cluster: Pick<TestCluster, 'etcdUrl'>, o: Created, creationTimestamp: string): Promise<void> {
  const resource = ETCD_RESOURCE[o.kind];
  if (!resource) throw new Error(`backdate: no etcd key for ${o.kind}`);
  const key = b64(`/registry/${resource}/${o.namespace ? `${o.namespace}/` : ''}${o.name}`);
  for (let attempt = 0; attempt < 5; attempt++) {
    const got = await etcd<{ kvs?: Array<{ value: string; mod_revision: string }> }>(cluster.etcdUrl, 'range', { key });
    const kv = got.kvs?.[0];
    if (!kv) throw new Error(`backdate: ${o.kind} ${o.namespace ?? ''}/${o.name} is not in etcd`);
    const raw = Buffer.from(kv.value, 'base64');
    if (raw[0] !== 0x7b) throw new Error('backdate: the apiserver does not store JSON (start the cluster with storageMediaType application/json)');
    const obj = JSON.parse(raw.toString('utf8')) as { metadata: { uid: string; creationTimestamp?: string } };
    if (obj.metadata.uid !== o.uid) throw new Error(`backdate: ${o.kind} ${o.name} has uid ${obj.metadata.uid}, not ${o.uid}`);
    obj.metadata.creationTimestamp = creationTimestamp;
    // Only if nobody wrote it since we read it (else read again).
    const txn = await etcd<{ succeeded?: boolean }>(cluster.etcdUrl, 'txn', {
      compare: [{ key, target: 'MOD', result: 'EQUAL', mod_revision: kv.mod_revision }],
      success: [{ request_put: { key, value: b64(JSON.stringify(obj)) } }],
    });
    if (txn.succeeded) return;
  }
  throw new Error(`backdate: ${o.kind} ${o.name} kept changing`);
}

/** Minimal valid specs for each kind (what the apiserver's validation requires). */
function specFor(kind: string): Record<string, unknown> | undefined {
  switch (kind) {
    case 'ReplicaSet':
    case 'Deployment':
    case 'DaemonSet':
      return { selector, template };
    case 'StatefulSet':
      return { selector, template, serviceName: 'x' };
    case 'Job':
      return { template: { ...template, spec: { ...template.spec, restartPolicy: 'Never' } } };
    case 'CronJob':
      return { schedule: '*/5 * * * *', jobTemplate: { spec: { template: { ...template, spec: { ...template.spec, restartPolicy: 'Never' } } } } };
    default:
      return undefined;
  }
}

export const ownerRef = (o: Created) => ({ apiVersion: API_VERSION[o.kind] ?? 'v1', kind: o.kind, name: o.name, uid: o.uid, controller: true });

export class ObjectWriter {
  readonly client: KubeClient;
  constructor(client: KubeClient) {
    this.client = client;
  }

  async create(kind: string, obj: Obj): Promise<Created> {
    const ns = obj.metadata.namespace;
    const body = { apiVersion: API_VERSION[kind] ?? 'v1', kind, spec: specFor(kind), ...obj };
    const got = await this.client.request<{ metadata: { uid: string } }>('POST', PATHS[kind]!(ns), body);
    return { kind, name: obj.metadata.name, namespace: ns, uid: got.metadata.uid };
  }

  async namespace(name: string, labels?: Record<string, string>): Promise<Created> {
    return this.create('Namespace', { metadata: { name, labels } });
  }

  async node(name: string, o: { zone?: string; region?: string; ip: string; podCIDR?: string; providerID?: string }): Promise<Created> {
    const labels: Record<string, string> = {};
    if (o.zone) labels['topology.kubernetes.io/zone'] = o.zone;
    if (o.region) labels['topology.kubernetes.io/region'] = o.region;
    const n = await this.create('Node', { metadata: { name, labels }, spec: { podCIDR: o.podCIDR, podCIDRs: o.podCIDR ? [o.podCIDR] : undefined, providerID: o.providerID } });
    await this.status('/api/v1/nodes/' + name, { status: { addresses: [{ type: 'InternalIP', address: o.ip }, { type: 'Hostname', address: name }] } });
    return n;
  }

  async owner(kind: string, namespace: string, name: string, owner?: Created): Promise<Created> {
    return this.create(kind, { metadata: { name, namespace, ownerReferences: owner ? [ownerRef(owner)] : undefined } });
  }

  /** A running pod on `node` with `ip` (status written through the status subresource, as a kubelet would). */
  async pod(namespace: string, name: string, o: { node: string; ip: string; owner?: Created; labels?: Record<string, string>; hostNetwork?: boolean; hostPorts?: number[] }): Promise<Created> {
    const ports = o.hostPorts?.map((p) => ({ containerPort: p, hostPort: p, protocol: 'TCP' }));
    const p = await this.create('Pod', {
      metadata: { name, namespace, labels: o.labels, ownerReferences: o.owner ? [ownerRef(o.owner)] : undefined },
      spec: { nodeName: o.node, hostNetwork: o.hostNetwork || undefined, containers: [{ name: 'c', image: 'busybox', ports }] },
    });
    await this.status(`/api/v1/namespaces/${namespace}/pods/${name}`, { status: { phase: 'Running', podIP: o.ip, podIPs: [{ ip: o.ip }] } });
    return p;
  }

  async service(namespace: string, name: string, clusterIP: string): Promise<Created> {
    return this.create('Service', { metadata: { name, namespace }, spec: { clusterIP, ports: [{ port: 80, protocol: 'TCP' }] } });
  }

  async status(path: string, patch: unknown): Promise<void> {
    await this.client.request('PATCH', `${path}/status`, patch, 'application/merge-patch+json');
  }

  /** Deletes at once (no kubelet confirms a graceful deletion here). */
  async delete(kind: string, namespace: string | undefined, name: string): Promise<void> {
    await this.client.request('DELETE', `${PATHS[kind]!(namespace)}/${name}`, { gracePeriodSeconds: 0 });
  }

  /** Deletes and ignores 404. */
  async deleteQuietly(kind: string, namespace: string | undefined, name: string): Promise<void> {
    try {
      await this.delete(kind, namespace, name);
    } catch (err) {
      if (!(err instanceof KubeApiError && err.status === 404)) throw err;
    }
  }
}
