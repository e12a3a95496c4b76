// The Kubernetes API as an inventory source: for each kind the index needs, a paged list
// (the initial state) then a watch from the list's resourceVersion, with bookmarks. A watch
// that ends is resumed from the last resourceVersion seen; 410 Gone (the version was
// compacted away) means a relist, which also reports as DELETED what vanished meanwhile.
// Objects are reduced to the fields the index reads at once (toKubeObject); no informer
// cache holds whole objects. RBAC: infra/k8s/enricher-rbac.yaml (get/list/watch, these kinds).
//
// Not exercised by the test suite (there is no API server here); the pieces it relies on
// (toKubeObject, the OwnerIndex) are.
import { KubeConfig, KubernetesObjectApi, Watch } from '@kubernetes/client-node';
import type { Logger } from '@tollgate/log';
import type { InventoryEvent, InventorySource } from '@tollgate/kube';
import { toKubeObject } from './inventory.ts';

interface Resource {
  apiVersion: string;
  kind: string;
  path: string;
}

/** Owners first, then nodes and Services, pods last: pods then resolve at once. */
export const KUBE_RESOURCES: readonly Resource[] = [
  { apiVersion: 'batch/v1', kind: 'CronJob', path: '/apis/batch/v1/cronjobs' },
  { apiVersion: 'batch/v1', kind: 'Job', path: '/apis/batch/v1/jobs' },
  { apiVersion: 'apps/v1', kind: 'Deployment', path: '/apis/apps/v1/deployments' },
  { apiVersion: 'apps/v1', kind: 'ReplicaSet', path: '/apis/apps/v1/replicasets' },
  { apiVersion: 'apps/v1', kind: 'StatefulSet', path: '/apis/apps/v1/statefulsets' },
  { apiVersion: 'apps/v1', kind: 'DaemonSet', path: '/apis/apps/v1/daemonsets' },
  { apiVersion: 'v1', kind: 'Node', path: '/api/v1/nodes' },
  { apiVersion: 'v1', kind: 'Service', path: '/api/v1/services' },
  { apiVersion: 'v1', kind: 'Pod', path: '/api/v1/pods' },
];

export interface KubeSourceOptions {
  /** Default: in-cluster service account, else KUBECONFIG / ~/.kube/config. */
  kubeConfig?: KubeConfig;
  logger?: Logger;
  pageSize?: number;
  now?: () => number;
}

type Meta = { name: string; namespace?: string; uid: string };

export function kubeSource(opts: KubeSourceOptions = {}): InventorySource {
  const now = opts.now ?? Date.now;
  const pageSize = opts.pageSize ?? 500;
  let stopped = false;
  const watches = new Map<string, AbortController>(); // kind -> current watch
  let emit: (e: InventoryEvent) => void = () => {};

  let api!: KubernetesObjectApi;
  let watch!: Watch;
  /** Per kind, what is known to exist (to report deletions found by a relist). */
  const known = new Map<string, Map<string, Meta>>();

  function deliver(type: InventoryEvent['type'], raw: unknown, res: Resource, time: number): void {
    const object = toKubeObject(raw, res.kind);
    if (!object) return;
    const m = known.get(res.kind)!;
    if (type === 'DELETED') m.delete(object.metadata.uid);
    else m.set(object.metadata.uid, { name: object.metadata.name, namespace: object.metadata.namespace, uid: object.metadata.uid });
    emit({ type, object, time });
  }

  /** Lists every page; returns the list's resourceVersion. */
  async function list(res: Resource, initial: boolean): Promise<string> {
    if (!known.has(res.kind)) known.set(res.kind, new Map());
    const before = new Map(known.get(res.kind)!);
    let cont: string | undefined;
    let rv = '';
    do {
      const page = await api.list(res.apiVersion, res.kind, undefined, undefined, undefined, undefined, undefined, undefined, pageSize, cont);
      for (const item of page.items) {
        const raw = item as unknown as { metadata?: { uid?: string; creationTimestamp?: unknown } };
        before.delete(raw.metadata?.uid ?? '');
        // Initial state: the object has held its IPs since it was created (as far as we know),
        // so flows still queued from before the enricher started match it.
        const created = raw.metadata?.creationTimestamp;
        const t = initial && created ? new Date(created as string).getTime() : now();
        deliver(known.get(res.kind)!.has(raw.metadata?.uid ?? '') ? 'MODIFIED' : 'ADDED', item, res, Number.isFinite(t) ? t : now());
      }
      cont = page.metadata?._continue || undefined;
      rv = page.metadata?.resourceVersion ?? rv;
    } while (cont && !stopped);
    for (const meta of before.values()) deliver('DELETED', { kind: res.kind, metadata: meta }, res, now());
    return rv;
  }

  async function watchLoop(res: Resource, fromRv: string): Promise<void> {
    let rv = fromRv;
    let delay = 1_000;
    while (!stopped) {
      let gone = false;
      const err = await new Promise<unknown>((resolve) => {
        watch
          .watch(
            res.path,
            { resourceVersion: rv, allowWatchBookmarks: true },
            (phase: string, obj: { code?: number; metadata?: { resourceVersion?: string } }) => {
              if (phase === 'ERROR') {
                if (obj?.code === 410) gone = true;
                return;
              }
              if (obj?.metadata?.resourceVersion) rv = obj.metadata.resourceVersion;
              if (phase === 'ADDED' || phase === 'MODIFIED' || phase === 'DELETED') deliver(phase, obj, res, now());
              delay = 1_000;
            },
            (e: unknown) => resolve(e),
          )
          .then((ctrl) => {
            watches.set(res.kind, ctrl);
            if (stopped) ctrl.abort();
          }, resolve);
      });
      if (stopped) return;
      if (gone || (err as { statusCode?: number } | null)?.statusCode === 410) {
        opts.logger?.info({ kind: res.kind }, 'watch expired (410), relisting');
        try {
          rv = await list(res, false);
        } catch (e) {
          opts.logger?.warn({ kind: res.kind, err: (e as Error).message }, 'relist failed');
          await new Promise((r) => setTimeout(r, delay));
          delay = Math.min(delay * 2, 60_000);
        }
        continue;
      }
      if (err) {
        opts.logger?.warn({ kind: res.kind, err: (err as Error).message ?? String(err) }, 'watch ended, resuming');
        await new Promise((r) => setTimeout(r, delay));
        delay = Math.min(delay * 2, 60_000);
      }
    }
  }

  return {
    name: 'kube',
    async start(onEvent) {
      emit = onEvent;
      const kc = opts.kubeConfig ?? new KubeConfig();
      if (!opts.kubeConfig) kc.loadFromDefault();
      api = KubernetesObjectApi.makeApiClient(kc);
      watch = new Watch(kc);
      const versions: string[] = [];
      for (const res of KUBE_RESOURCES) versions.push(await list(res, true));
      KUBE_RESOURCES.forEach((res, i) => void watchLoop(res, versions[i]!));
    },
    async stop() {
      stopped = true;
      for (const a of watches.values()) a.abort();
    },
  };
}
