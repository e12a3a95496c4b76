// The Kubernetes API as an inventory source. For each resource the index needs: a paged list
// (the initial state), then a watch from the list's resourceVersion with bookmarks. A watch that
// ends or breaks is resumed from the last resourceVersion seen; 410 Gone (that version was
// compacted away) means a relist, which reports as DELETED what vanished meanwhile; any other
// error (connection refused, an apiserver restarting, the 403s it serves until its RBAC cache is
// synced) restarts the loop after an exponential backoff. Objects are reduced to the fields
// the index reads as they arrive (toKubeObject); owner kinds and namespaces are read
// metadata-only (PartialObjectMetadata), so 15k ReplicaSets cost their names and owners.
//
// Only the intermediate owners are watched: a pod's chain is Pod -> ReplicaSet -> Deployment or
// Pod -> Job -> CronJob, and the top owner's kind and name are in the intermediate one's owner
// reference; StatefulSet and DaemonSet own their pods directly. So Deployments, CronJobs,
// StatefulSets and DaemonSets are never read. RBAC: infra/k8s/enricher-rbac.yaml.
import { ConfigError } from '@tollgate/config';
import { isRetryable, KubeApiError, KubeClient, type InventoryEvent, type InventorySource, type ResourceType } from '@tollgate/kube';
import type { Logger } from '@tollgate/log';
import { errorMessage } from '@tollgate/pipeline';
import { toKubeObject } from './inventory.ts';

/** What the enricher lists and watches (the ClusterRole grants get/list/watch on exactly these). */
export const KUBE_RESOURCES: readonly ResourceType[] = [
  { group: '', version: 'v1', plural: 'namespaces', kind: 'Namespace', metadataOnly: true },
  { group: 'apps', version: 'v1', plural: 'replicasets', kind: 'ReplicaSet', metadataOnly: true },
  { group: 'batch', version: 'v1', plural: 'jobs', kind: 'Job', metadataOnly: true },
  { group: '', version: 'v1', plural: 'nodes', kind: 'Node' },
  { group: '', version: 'v1', plural: 'services', kind: 'Service' },
  { group: '', version: 'v1', plural: 'pods', kind: 'Pod' },
];

export interface KubeSourceStats {
  /** Lists run (initial and relists), per kind. */
  lists: Record<string, number>;
  /** Relists after 410 Gone. */
  gone: number;
  /** Watch or list failures followed by a backoff. */
  errors: number;
  /** Watches resumed from a resourceVersion (stream ended or broke). */
  resumes: number;
  /** Events delivered (list items included). */
  events: number;
}

export interface KubeSource extends InventorySource {
  stats(): KubeSourceStats;
  /** True once every resource has been listed once (the initial sync). */
  synced(): boolean;
}

export interface KubeSourceOptions {
  /** Default: the in-cluster service account, else ~/.kube/config. */
  client?: KubeClient;
  logger?: Logger;
  pageSize?: number;
  /** How long start() waits for the first full sync before failing (default 60 s). */
  syncTimeoutMs?: number;
  /** Backoff after an error: from this (default 500 ms), doubling to maxBackoffMs (default 30 s). */
  backoffMs?: number;
  maxBackoffMs?: number;
  /** The setting named in the error when no cluster can be reached. */
  setting?: string;
  now?: () => number;
}

type Meta = { name: string; namespace?: string; uid: string };

export function kubeSource(opts: KubeSourceOptions = {}): KubeSource {
  const now = opts.now ?? Date.now;
  const pageSize = opts.pageSize ?? 500;
  const setting = opts.setting ?? 'TOLLGATE_K8S_SOURCE';
  const log = opts.logger;
  const baseBackoff = opts.backoffMs ?? 500;
  const maxBackoff = opts.maxBackoffMs ?? 30_000;
  const stats: KubeSourceStats = { lists: {}, gone: 0, errors: 0, resumes: 0, events: 0 };
  const abort = new AbortController();
  let emit: (e: InventoryEvent) => void = () => {};
  let client: KubeClient | undefined = opts.client;
  const listed = new Set<string>();
  let lastError = '';
  const loops: Array<Promise<void>> = [];
  /** Per kind, what exists as far as we know (uid -> identity), to report deletions found by a relist. */
  const known = new Map<string, Map<string, Meta>>();

  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const t = setTimeout(resolve, ms);
      abort.signal.addEventListener('abort', () => (clearTimeout(t), resolve()), { once: true });
    });

  function deliver(type: InventoryEvent['type'], raw: unknown, res: ResourceType, time: number): void {
    const object = toKubeObject(raw, res.kind);
    if (!object) return;
    const m = known.get(res.kind)!;
    const { uid, name, namespace } = object.metadata;
    if (type === 'DELETED') m.delete(uid);
    else m.set(uid, { uid, name, namespace });
    stats.events++;
    emit({ type, object, time });
  }

  /** Lists every page; returns the list's resourceVersion. */
  async function list(res: ResourceType): Promise<string> {
    const c = client!;
    const initial = !listed.has(res.kind);
    if (!known.has(res.kind)) known.set(res.kind, new Map());
    const m = known.get(res.kind)!;
    const vanished = new Map(m);
    let cont: string | undefined;
    let rv = '';
    stats.lists[res.kind] = (stats.lists[res.kind] ?? 0) + 1;
    do {
      const page = await c.list(res, { limit: pageSize, continue: cont });
      const t = now();
      for (const item of page.items) {
        const meta = (item as { metadata?: { uid?: string; creationTimestamp?: string } }).metadata;
        const uid = meta?.uid ?? '';
        vanished.delete(uid);
        // Initial state: an object has held its IPs since it was created (as far as we know), so
        // flows still queued in Kafka from before the enricher started match it.
        const created = initial && meta?.creationTimestamp ? Date.parse(meta.creationTimestamp) : NaN;
        deliver(m.has(uid) ? 'MODIFIED' : 'ADDED', item, res, Number.isFinite(created) ? Math.min(created, t) : t);
      }
      cont = page.continue;
      rv = page.resourceVersion || rv;
    } while (cont && !abort.signal.aborted);
    const t = now();
    for (const meta of vanished.values()) deliver('DELETED', { metadata: meta }, res, t);
    listed.add(res.kind);
    return rv;
  }

  async function loop(res: ResourceType): Promise<void> {
    let rv = '';
    let backoff = baseBackoff;
    while (!abort.signal.aborted) {
      try {
        if (!rv) rv = await list(res);
        await client!.watch(
          res,
          rv,
          (type, obj) => {
            const v = (obj.metadata as { resourceVersion?: string } | undefined)?.resourceVersion;
            if (v) rv = v;
            if (type !== 'BOOKMARK') deliver(type, obj, res, now());
            backoff = baseBackoff;
          },
          abort.signal,
        );
        if (abort.signal.aborted) return;
        stats.resumes++; // the server ended the watch (its timeout): resume from rv
      } catch (err) {
        if (abort.signal.aborted) return;
        if (err instanceof KubeApiError && err.gone) {
          stats.gone++;
          log?.info({ kind: res.kind }, 'watch expired (410 Gone), relisting');
          rv = '';
          continue;
        }
        stats.errors++;
        lastError = errorMessage(err);
        const level = isRetryable(err) ? 'warn' : 'error';
        log?.[level]({ kind: res.kind, err: lastError, backoffMs: backoff }, listed.has(res.kind) ? 'watch failed, resuming after backoff' : 'list failed, retrying after backoff');
        await sleep(backoff);
        backoff = Math.min(backoff * 2, maxBackoff);
        if (listed.has(res.kind) && rv) stats.resumes++;
      }
    }
  }

  return {
    name: 'kube',
    stats: () => ({ ...stats, lists: { ...stats.lists } }),
    synced: () => listed.size === KUBE_RESOURCES.length,
    async start(onEvent) {
      emit = onEvent;
      if (!client) {
        try {
          client = KubeClient.fromDefault();
        } catch (err) {
          throw new ConfigError(setting, `'kube' needs a cluster: no in-cluster service account and no usable kubeconfig (${errorMessage(err)})`);
        }
      }
      for (const res of KUBE_RESOURCES) loops.push(loop(res));
      const deadline = now() + (opts.syncTimeoutMs ?? 60_000);
      while (listed.size < KUBE_RESOURCES.length) {
        if (abort.signal.aborted) throw new Error('kube source stopped before its first sync');
        if (now() >= deadline) {
          abort.abort();
          await Promise.all(loops);
          const missing = KUBE_RESOURCES.filter((r) => !listed.has(r.kind)).map((r) => r.plural);
          throw new ConfigError(setting, `'kube': the Kubernetes API at ${client.server} did not serve ${missing.join(', ')} within ${opts.syncTimeoutMs ?? 60_000} ms (last error: ${lastError || 'none'})`);
        }
        await sleep(50);
      }
      log?.info({ server: client.server, lists: stats.lists, events: stats.events }, 'kube inventory synced');
    },
    async stop() {
      abort.abort();
      await Promise.all(loops);
      client?.close();
    },
  };
}
