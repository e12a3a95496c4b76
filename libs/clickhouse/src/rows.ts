// EnrichedFlow -> one flat `flows` row (infra/clickhouse/0001_flows.sql), and the fast
// serialization the sink inserts with.
import type { EnrichedFlow, EnrichedFlowBatch, Endpoint } from '@tollgate/schema';

/** Kafka coordinates of the flows.enriched.v1 message a row came from. */
export interface SourceCoordinates {
  topic: string;
  partition: number;
  offset: number;
}

/** One row of the `flows` table. time is Unix seconds (UTC); ips are textual (IPv4 is stored IPv4-mapped). */
export interface FlowRow {
  time: number;
  cluster: string;
  node: string;
  conntrack_id: number;
  protocol: number;
  family: string;
  role: string;
  local_ip: string;
  local_port: number;
  local_kind: string;
  local_cluster: string;
  local_namespace: string;
  local_workload_kind: string;
  local_workload: string;
  local_pod: string;
  local_node: string;
  local_zone: string;
  local_region: string;
  local_country: string;
  local_asn: number;
  local_as_org: string;
  remote_ip: string;
  remote_port: number;
  remote_kind: string;
  remote_cluster: string;
  remote_namespace: string;
  remote_workload_kind: string;
  remote_workload: string;
  remote_pod: string;
  remote_node: string;
  remote_zone: string;
  remote_region: string;
  remote_country: string;
  remote_asn: number;
  remote_as_org: string;
  /** Lowercase traffic class: 'cross_zone', 'internet', ... */
  class: string;
  cloud: string;
  cloud_service: string;
  cloud_service_region: string;
  nat_gateway: boolean;
  egress_bytes: number;
  ingress_bytes: number;
  egress_packets: number;
  ingress_packets: number;
  src_topic: string;
  src_partition: number;
  src_offset: number;
}

/** Column order of the insert (every FlowRow key). */
export const FLOW_COLUMNS = [
  'time', 'cluster', 'node', 'conntrack_id', 'protocol', 'family', 'role',
  'local_ip', 'local_port', 'local_kind', 'local_cluster', 'local_namespace', 'local_workload_kind', 'local_workload', 'local_pod',
  'local_node', 'local_zone', 'local_region', 'local_country', 'local_asn', 'local_as_org',
  'remote_ip', 'remote_port', 'remote_kind', 'remote_cluster', 'remote_namespace', 'remote_workload_kind', 'remote_workload', 'remote_pod',
  'remote_node', 'remote_zone', 'remote_region', 'remote_country', 'remote_asn', 'remote_as_org',
  'class', 'cloud', 'cloud_service', 'cloud_service_region', 'nat_gateway',
  'egress_bytes', 'ingress_bytes', 'egress_packets', 'ingress_packets',
  'src_topic', 'src_partition', 'src_offset',
] as const satisfies ReadonlyArray<keyof FlowRow>;

const CLASS_LOWER: Record<string, string> = {};
function lowerClass(c: string): string {
  return (CLASS_LOWER[c] ??= c.toLowerCase());
}

/** The unknown address (empty string in the record) as IPv6 '::'; a zone index (fe80::1%eth0) dropped. */
function ip(s: string): string {
  if (s === '') return '::';
  const zone = s.indexOf('%');
  return zone < 0 ? s : s.slice(0, zone);
}

function flowRow(b: EnrichedFlowBatch, f: EnrichedFlow, src: SourceCoordinates): FlowRow {
  const l: Endpoint = f.local;
  const r: Endpoint = f.remote;
  return {
    time: Math.floor(f.time / 1000),
    cluster: b.cluster,
    node: b.node,
    conntrack_id: f.conntrack_id,
    protocol: f.protocol,
    family: f.family,
    role: f.role,
    local_ip: ip(l.ip),
    local_port: l.port,
    local_kind: l.kind,
    local_cluster: l.cluster,
    local_namespace: l.namespace,
    local_workload_kind: l.workload_kind,
    local_workload: l.workload,
    local_pod: l.pod,
    local_node: l.node,
    local_zone: l.zone,
    local_region: l.region,
    local_country: l.country,
    local_asn: l.asn,
    local_as_org: l.as_org,
    remote_ip: ip(r.ip),
    remote_port: r.port,
    remote_kind: r.kind,
    remote_cluster: r.cluster,
    remote_namespace: r.namespace,
    remote_workload_kind: r.workload_kind,
    remote_workload: r.workload,
    remote_pod: r.pod,
    remote_node: r.node,
    remote_zone: r.zone,
    remote_region: r.region,
    remote_country: r.country,
    remote_asn: r.asn,
    remote_as_org: r.as_org,
    class: lowerClass(f.class),
    cloud: f.cloud,
    cloud_service: f.cloud_service,
    cloud_service_region: f.cloud_service_region,
    nat_gateway: f.nat_gateway,
    egress_bytes: f.egress_bytes,
    ingress_bytes: f.ingress_bytes,
    egress_packets: f.egress_packets,
    ingress_packets: f.ingress_packets,
    src_topic: src.topic,
    src_partition: src.partition,
    src_offset: src.offset,
  };
}

/** The rows of one flows.enriched.v1 message. */
export function toFlowRows(batch: EnrichedFlowBatch, src: SourceCoordinates): FlowRow[] {
  const out = new Array<FlowRow>(batch.flows.length);
  for (let i = 0; i < batch.flows.length; i++) out[i] = flowRow(batch, batch.flows[i]!, src);
  return out;
}

/** One row as an array in FLOW_COLUMNS order (JSONCompactEachRow). */
export function flowRowValues(r: FlowRow): unknown[] {
  return [
    r.time, r.cluster, r.node, r.conntrack_id, r.protocol, r.family, r.role,
    r.local_ip, r.local_port, r.local_kind, r.local_cluster, r.local_namespace, r.local_workload_kind, r.local_workload, r.local_pod,
    r.local_node, r.local_zone, r.local_region, r.local_country, r.local_asn, r.local_as_org,
    r.remote_ip, r.remote_port, r.remote_kind, r.remote_cluster, r.remote_namespace, r.remote_workload_kind, r.remote_workload, r.remote_pod,
    r.remote_node, r.remote_zone, r.remote_region, r.remote_country, r.remote_asn, r.remote_as_org,
    r.class, r.cloud, r.cloud_service, r.cloud_service_region, r.nat_gateway,
    r.egress_bytes, r.ingress_bytes, r.egress_packets, r.ingress_packets,
    r.src_topic, r.src_partition, r.src_offset,
  ];
}

/**
 * Rows as a JSONCompactEachRow body. Measured (100k rows, 47 columns): ~170 ms here vs
 * ~700-1100 ms for a hand-built TabSeparated body (string concatenation) and ~240 ms for
 * JSONEachRow objects; the engine parses it about as fast as TabSeparated.
 */
export function flowRowsJsonCompact(rows: readonly FlowRow[]): string {
  const parts = new Array<string>(rows.length);
  for (let i = 0; i < rows.length; i++) parts[i] = JSON.stringify(flowRowValues(rows[i]!));
  return parts.join('\n') + '\n';
}
