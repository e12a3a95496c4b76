// Kubernetes objects as the API serves them (the subset Tollgate reads), and the inventory
// events that feed the enricher's owner index. The real watch (services/enricher), a
// `kubectl get -o json` file and the simulated cluster all produce these.

export interface OwnerReference {
  apiVersion?: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
}

export interface ObjectMeta {
  name: string;
  namespace?: string;
  uid: string;
  labels?: Record<string, string>;
  ownerReferences?: OwnerReference[];
  /** RFC 3339. */
  creationTimestamp?: string;
  deletionTimestamp?: string;
}

export interface ContainerPort {
  containerPort: number;
  hostPort?: number;
  protocol?: 'TCP' | 'UDP' | 'SCTP';
}

export interface Pod {
  apiVersion: 'v1';
  kind: 'Pod';
  metadata: ObjectMeta;
  spec: { nodeName?: string; hostNetwork?: boolean; containers: Array<{ name: string; ports?: ContainerPort[] }> };
  status: {
    podIP?: string;
    podIPs?: Array<{ ip: string }>;
    hostIP?: string;
    phase?: string;
    /** Only when a container finished: a finished pod held its IPs until then. */
    containerStatuses?: Array<{ state?: { terminated?: { finishedAt?: string } } }>;
  };
}

export interface Node {
  apiVersion: 'v1';
  kind: 'Node';
  metadata: ObjectMeta;
  spec: { providerID?: string; podCIDR?: string; podCIDRs?: string[] };
  status: { addresses?: Array<{ type: string; address: string }> };
}

export interface Service {
  apiVersion: 'v1';
  kind: 'Service';
  metadata: ObjectMeta;
  spec: { clusterIP?: string; clusterIPs?: string[]; type?: string; ports?: Array<{ port: number; targetPort?: number | string; nodePort?: number; protocol?: string }> };
}

/** ReplicaSet, Deployment, StatefulSet, DaemonSet, Job, CronJob: only their identity and owners matter. */
export interface Workload {
  apiVersion: string;
  kind: 'ReplicaSet' | 'Deployment' | 'StatefulSet' | 'DaemonSet' | 'Job' | 'CronJob';
  metadata: ObjectMeta;
}

/** Namespaces matter only for their labels (chargeback labels a pod does not carry itself). */
export interface Namespace {
  apiVersion: 'v1';
  kind: 'Namespace';
  metadata: ObjectMeta;
}

export type KubeObject = Pod | Node | Service | Workload | Namespace;

export interface InventoryEvent {
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  object: KubeObject;
  /** When it happened (ms since epoch): the index is time-aware, so a flow is matched to the object that held its IP at the flow's time. */
  time: number;
}

/** A source of inventory events: the Kubernetes API, a file, or the simulated cluster. */
export interface InventorySource {
  readonly name: string;
  /** Calls onEvent for the current state (and later changes, for a live source); resolves once the initial state is delivered. */
  start(onEvent: (e: InventoryEvent) => void): Promise<void>;
  stop(): Promise<void>;
}

export const ZONE_LABEL = 'topology.kubernetes.io/zone';
export const REGION_LABEL = 'topology.kubernetes.io/region';

export { KubeClient, KubeApiError, KubeconfigError, isRetryable, resourcePath, loadKubeconfig, inClusterConnection } from './client.ts';
export type { ResourceType, ListPage, WatchEventType, KubeClientOptions, KubeConnection } from './client.ts';
