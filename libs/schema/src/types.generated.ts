// Generated from schemas/*/v<N>.avsc by libs/schema/src/codegen.ts (npm run schemas:gen). Do not edit.

// anomaly-event/v2.avsc
export type AnomalyRule = 'NEW_COUNTRY' | 'NEW_ASN' | 'UNEXPECTED_COUNTRY' | 'VOLUME_SPIKE' | 'MINING_PORT' | 'BUDGET' | 'OTHER';

export const AnomalyRuleValues = ['NEW_COUNTRY', 'NEW_ASN', 'UNEXPECTED_COUNTRY', 'VOLUME_SPIKE', 'MINING_PORT', 'BUDGET', 'OTHER'] as const;

export interface Destination {
  country: string;
  asn: number;
  ip: string;
  port: number;
}

export type Severity = 'LOW' | 'MEDIUM' | 'HIGH' | 'CRITICAL';

export const SeverityValues = ['LOW', 'MEDIUM', 'HIGH', 'CRITICAL'] as const;

export type BudgetPeriod = 'DAY' | 'MONTH';

export const BudgetPeriodValues = ['DAY', 'MONTH'] as const;

export interface Budget {
  /** Empty for a namespace budget. */
  label_key: string;
  label_value: string;
  period: BudgetPeriod;
  period_start: number;
  budget_usd: number;
  /** Spend of the period to the end of window_end's hour. */
  spent_usd: number;
}

/** Topic egress.anomalies.v1. One event per anomaly, exactly once (id is stable: rule, workload or budget, destination and window). v2: the BUDGET rule and its budget (v1 readers see BUDGET as OTHER). */
export interface AnomalyEvent {
  id: string;
  detected_at: number;
  window_start: number;
  window_end: number;
  cluster: string;
  namespace: string;
  workload_kind: string;
  workload: string;
  rule: AnomalyRule;
  destination: Destination;
  /** Egress bytes in the window. */
  bytes: number;
  /** What the rule compared against (0 for a never-seen destination). */
  baseline_bytes: number;
  score: number;
  severity: Severity;
  /** For rule BUDGET: the budget crossed (workload fields are empty; bytes and baseline_bytes 0). */
  budget: null | Budget;
}

// enriched-flow-batch/v2.avsc
export interface SourceRef {
  agent_id: string;
  seq: number;
  topic: string;
  partition: number;
  offset: number;
}

export type EndpointKind = 'POD' | 'NODE' | 'SERVICE' | 'EXTERNAL';

export const EndpointKindValues = ['POD', 'NODE', 'SERVICE', 'EXTERNAL'] as const;

/** The identity of one end of a flow (what it is, where it runs), without its address. Empty strings and 0 mean unknown. */
export interface Endpoint {
  kind: EndpointKind;
  cluster: string;
  namespace: string;
  /** Deployment, StatefulSet, DaemonSet, CronJob, Job, ReplicaSet, Pod, Node, Service. */
  workload_kind: string;
  workload: string;
  pod: string;
  node: string;
  zone: string;
  region: string;
  /** ISO 3166-1 alpha-2, from GeoIP; external ends only. */
  country: string;
  asn: number;
  as_org: string;
  /** For an address in a cloud provider's published ranges: the service (S3, ...); its region is `region`. */
  service: string;
  /** Chargeback labels (TOLLGATE_CHARGEBACK_LABELS) of a pod, or of its namespace where the pod lacks them; empty for other kinds. */
  labels: Record<string, string>;
}

export type IpFamily = 'IPV4' | 'IPV6';

export const IpFamilyValues = ['IPV4', 'IPV6'] as const;

export type Role = 'INITIATOR' | 'RESPONDER';

export const RoleValues = ['INITIATOR', 'RESPONDER'] as const;

export type TrafficClass = 'DIRECT' | 'CLOUD_SERVICE' | 'SAME_ZONE' | 'CROSS_ZONE' | 'CROSS_REGION' | 'PRIVATE' | 'INTERNET';

export const TrafficClassValues = ['DIRECT', 'CLOUD_SERVICE', 'SAME_ZONE', 'CROSS_ZONE', 'CROSS_REGION', 'PRIVATE', 'INTERNET'] as const;

export interface EnrichedFlow {
  /** Start of the window the bytes belong to. */
  time: number;
  conntrack_id: number;
  protocol: number;
  family: IpFamily;
  /** Which end of the connection the local side is. */
  role: Role;
  /** Index into the batch's `endpoints`: the side on the reporting node, which this record bills. */
  local: number;
  local_ip: string;
  local_port: number;
  /** Index into the batch's `endpoints`: the other side. */
  remote: number;
  remote_ip: string;
  remote_port: number;
  /** `namespace/name` of the Kubernetes Service the initiator addressed: the original destination was its ClusterIP and kube-proxy DNAT'd it to the responder. Empty when the flow did not go through a Service (or was not un-DNAT'd: then the remote is the Service itself). */
  service: string;
  /** DESIGN.md section 4, decided in this order. */
  class: TrafficClass;
  /** The bytes pass a NAT gateway (internet traffic of a cluster configured to use one). */
  nat_gateway: boolean;
  /** Bytes the local side sent. */
  egress_bytes: number;
  /** Bytes the local side received. */
  ingress_bytes: number;
  egress_packets: number;
  ingress_packets: number;
}

/** Topic flows.enriched.v1. One Kafka message per flows.raw.v1 message: each raw flow becomes one enriched flow per side that is local to the reporting node (the side that pays for what it sends, DESIGN.md section 2). Endpoint identities (workload, zone, country, ...) repeat across thousands of flows, so a batch lists each distinct one once in `endpoints` and flows refer to them by index (dictionary encoding: smaller messages, cheaper to write and to read). v2 adds each endpoint's chargeback `labels` and each flow's Kubernetes `service`; v1 messages resolve to it (both default to empty). */
export interface EnrichedFlowBatch {
  cluster: string;
  /** Node whose agent reported the flows. */
  node: string;
  /** The reporting node's cloud provider (aws, gcp, azure), which prices the bytes. */
  cloud: string;
  window_start: number;
  window_end: number;
  /** Where the raw batch came from: with it a consumer can tell a re-emitted batch from a new one. */
  source: SourceRef;
  /** Distinct endpoint identities of this batch, referred to by index from `flows`. */
  endpoints: Array<Endpoint>;
  flows: Array<EnrichedFlow>;
}

// raw-flow-batch/v1.avsc
export interface Tuple {
  /** Source IP, textual (IPv4 dotted quad or IPv6). */
  src: string;
  dst: string;
  /** Source port; 0 for protocols without ports. */
  sport: number;
  dport: number;
}

/** Counter growth of one conntrack entry since it was last reported. */
export interface RawFlow {
  /** conntrack entry id (-o id); with the original tuple it identifies the entry. */
  conntrack_id: number;
  /** IANA protocol number: 6 TCP, 17 UDP, 1 ICMP, 58 ICMPv6, 132 SCTP. */
  protocol: number;
  family: IpFamily;
  /** Original-direction tuple, as the initiator sent it (before DNAT). */
  original: Tuple;
  /** Reply-direction tuple, as the responder answers (after NAT): reply.src is the real responder. */
  reply: Tuple;
  /** Bytes initiator -> responder since the last report. */
  orig_bytes: number;
  orig_packets: number;
  /** Bytes responder -> initiator since the last report. */
  reply_bytes: number;
  reply_packets: number;
  /** When the entry started (conntrack timestamp) or, failing that, when the agent first saw it. */
  flow_start: number;
  /** True when this delta comes from the DESTROY event: the entry is gone. */
  final: boolean;
}

/** Topic flows.raw.v1. One Kafka message: a batch of conntrack byte deltas from one node agent. Endpoints are NOT resolved here: both conntrack tuples are kept, the enricher resolves them (DESIGN.md section 1). */
export interface RawFlowBatch {
  /** Cluster name, from the agent's configuration. */
  cluster: string;
  /** Kubernetes node the agent runs on (spec.nodeName). */
  node: string;
  /** Identity of the agent process (node name + start time); with seq it identifies a batch. */
  agent_id: string;
  /** Batch sequence number, per agent_id, from 0. */
  seq: number;
  /** Start of the interval the deltas cover (previous poll). */
  window_start: number;
  /** End of the interval (this poll, or the DESTROY event time). */
  window_end: number;
  flows: Array<RawFlow>;
}
