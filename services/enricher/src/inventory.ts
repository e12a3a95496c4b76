// Inventory sources for the owner index: a fixed list of events (the simulated cluster), a
// `kubectl get -o json` file, and the Kubernetes API (list + watch).
import { readFileSync } from 'node:fs';
import { ConfigError } from '@tollgate/config';
import type { InventoryEvent, InventorySource, KubeObject } from '@tollgate/kube';

const KINDS = new Set(['Namespace', 'Pod', 'Node', 'Service', 'ReplicaSet', 'Deployment', 'StatefulSet', 'DaemonSet', 'Job', 'CronJob']);

/** A source that replays a fixed list of events (e.g. the simulated cluster's inventory). */
export function eventsSource(events: readonly InventoryEvent[], name = 'events'): InventorySource {
  return {
    name,
    async start(onEvent) {
      for (const e of events) onEvent(e);
    },
    async stop() {},
  };
}

function iso(v: unknown): string | undefined {
  if (v instanceof Date) return v.toISOString();
  return typeof v === 'string' ? v : undefined;
}

/** Of the containers' statuses, only when those that terminated finished (undefined if none did). */
function finishedContainers(statuses: unknown): Array<{ state: { terminated: { finishedAt: string } } }> | undefined {
  if (!Array.isArray(statuses)) return undefined;
  const out: Array<{ state: { terminated: { finishedAt: string } } }> = [];
  for (const c of statuses as Array<{ state?: { terminated?: { finishedAt?: unknown } } }>) {
    const at = iso(c?.state?.terminated?.finishedAt);
    if (at) out.push({ state: { terminated: { finishedAt: at } } });
  }
  return out.length ? out : undefined;
}

/**
 * Reduces an API object (as JSON or as @kubernetes/client-node deserialized it, with Dates)
 * to the subset Tollgate reads. Undefined for kinds the index does not use.
 */
export function toKubeObject(obj: unknown, kindHint?: string): KubeObject | undefined {
  if (typeof obj !== 'object' || obj === null) return undefined;
  const o = obj as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  // The hint wins: metadata-only lists and watches serve kind PartialObjectMetadata.
  const kind: string = kindHint ?? o.kind;
  const m = o.metadata;
  if (!KINDS.has(kind) || !m || typeof m.name !== 'string' || typeof m.uid !== 'string') return undefined;
  const metadata = {
    name: m.name as string,
    namespace: m.namespace as string | undefined,
    uid: m.uid as string,
    labels: m.labels as Record<string, string> | undefined,
    ownerReferences: Array.isArray(m.ownerReferences)
      ? (m.ownerReferences as Array<Record<string, unknown>>).map((r) => ({ kind: String(r.kind), name: String(r.name), uid: String(r.uid), controller: r.controller === true }))
      : undefined,
    creationTimestamp: iso(m.creationTimestamp),
    deletionTimestamp: iso(m.deletionTimestamp),
  };
  const spec = o.spec ?? {};
  const status = o.status ?? {};
  switch (kind) {
    case 'Pod':
      return {
        apiVersion: 'v1',
        kind,
        metadata,
        spec: {
          nodeName: spec.nodeName,
          hostNetwork: spec.hostNetwork === true,
          containers: (spec.containers ?? []).map((c: Record<string, any>) => ({ // eslint-disable-line @typescript-eslint/no-explicit-any
            name: String(c.name),
            ports: Array.isArray(c.ports) ? c.ports.map((p: Record<string, unknown>) => ({ containerPort: Number(p.containerPort), hostPort: p.hostPort === undefined ? undefined : Number(p.hostPort), protocol: p.protocol as 'TCP' | 'UDP' | 'SCTP' | undefined })) : undefined,
          })),
        },
        status: { podIP: status.podIP, podIPs: status.podIPs, hostIP: status.hostIP, phase: status.phase, containerStatuses: finishedContainers(status.containerStatuses) },
      };
    case 'Node':
      return { apiVersion: 'v1', kind, metadata, spec: { providerID: spec.providerID, podCIDR: spec.podCIDR, podCIDRs: spec.podCIDRs }, status: { addresses: status.addresses } };
    case 'Service':
      return { apiVersion: 'v1', kind, metadata, spec: { clusterIP: spec.clusterIP, clusterIPs: spec.clusterIPs, type: spec.type } };
    case 'Namespace':
      return { apiVersion: 'v1', kind, metadata: { name: metadata.name, uid: metadata.uid, labels: metadata.labels } };
    default:
      return { apiVersion: String(o.apiVersion ?? ''), kind: kind as 'ReplicaSet', metadata: { name: metadata.name, namespace: metadata.namespace, uid: metadata.uid, ownerReferences: metadata.ownerReferences } };
  }
}

/**
 * `kubectl get pods,nodes,services,replicasets,deployments,statefulsets,daemonsets,jobs,cronjobs -A -o json`
 * (a List). A snapshot has no history, so each object is taken to have held its IPs for all
 * time (event time 0); finished pods (Succeeded/Failed) hold theirs until their containers
 * finished if their status says when, else none.
 */
export function fileSource(path: string, setting = 'TOLLGATE_K8S_SOURCE'): InventorySource {
  return {
    name: `file:${path}`,
    async start(onEvent) {
      let doc: { items?: unknown };
      try {
        doc = JSON.parse(readFileSync(path, 'utf8')) as { items?: unknown };
      } catch (err) {
        throw new ConfigError(setting, `cannot read a Kubernetes List from ${path}: ${(err as Error).message}`);
      }
      const items = Array.isArray(doc) ? doc : doc?.items;
      if (!Array.isArray(items)) throw new ConfigError(setting, `${path} is not a Kubernetes List (no items)`);
      // Owners first, then nodes, so lookups never see a half-built chain (the index copes either way).
      const order = (k: string) => (k === 'Pod' ? 3 : k === 'Service' ? 2 : k === 'Node' ? 1 : 0);
      const objs = items.map((x) => toKubeObject(x)).filter((x): x is KubeObject => x !== undefined);
      objs.sort((a, b) => order(a.kind) - order(b.kind));
      for (const object of objs) onEvent({ type: 'ADDED', object, time: 0 });
    },
    async stop() {},
  };
}
