// EnrichedFlow -> one flat `flows` row (infra/clickhouse/0001_flows.sql), and the fast
// serialization the sink inserts with.
import { PermanentError } from '@tollgate/pipeline';
import { viewEnriched, type EndpointView, type EnrichedFlowBatch, type EnrichedFlowView } from '@tollgate/schema';

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
  local_namespace: string;
  local_workload_kind: string;
  local_workload: string;
  local_pod: string;
  local_zone: string;
  local_region: string;
  remote_ip: string;
  remote_port: number;
  remote_kind: string;
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
  'local_ip', 'local_port', 'local_kind', 'local_namespace', 'local_workload_kind', 'local_workload', 'local_pod',
  'local_zone', 'local_region',
  'remote_ip', 'remote_port', 'remote_kind', 'remote_namespace', 'remote_workload_kind', 'remote_workload', 'remote_pod',
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

function flowRow(b: EnrichedFlowBatch, f: EnrichedFlowView, src: SourceCoordinates): FlowRow {
  const l: EndpointView = f.local;
  const r: EndpointView = f.remote;
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
    local_namespace: l.namespace,
    local_workload_kind: l.workload_kind,
    local_workload: l.workload,
    local_pod: l.pod,
    local_zone: l.zone,
    local_region: l.region,
    remote_ip: ip(r.ip),
    remote_port: r.port,
    remote_kind: r.kind,
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
  return viewEnriched(batch).map((f) => flowRow(batch, f, src));
}

/** Rows ready for an insert: JSONCompactEachRow lines in FLOW_COLUMNS order, each ending in a newline. */
export interface RowBlock {
  body: string;
  rows: number;
}

/** One row as an array in FLOW_COLUMNS order (JSONCompactEachRow). */
export function flowRowValues(r: FlowRow): unknown[] {
  return FLOW_COLUMNS.map((c) => r[c]);
}

/** Hand-made rows (tests, tools) as a block. */
export function rowBlock(rows: readonly FlowRow[]): RowBlock {
  let body = '';
  for (const r of rows) body += `${JSON.stringify(flowRowValues(r))}\n`;
  return { body, rows: rows.length };
}

/**
 * The rows of one flows.enriched.v1 message, straight from the decoded record into
 * JSONCompactEachRow (the sink's hot path: no row objects in between). Same values, same
 * order as rowBlock(toFlowRows(batch, src)); a test keeps the two equal.
 */
export function encodeFlowRows(b: EnrichedFlowBatch, src: SourceCoordinates): RowBlock {
  // The batch's endpoints are few and shared by many flows: their JSON is written once.
  const eps = b.endpoints;
  const localJson = new Array<string>(eps.length);
  const remoteJson = new Array<string>(eps.length);
  const serviceJson = new Array<string>(eps.length);
  for (let i = 0; i < eps.length; i++) {
    const e = eps[i]!;
    localJson[i] = inner([e.kind, e.namespace, e.workload_kind, e.workload, e.pod, e.zone, e.region]);
    remoteJson[i] = inner([e.kind, e.namespace, e.workload_kind, e.workload, e.pod, e.node, e.zone, e.region, e.country, e.asn, e.as_org]);
    serviceJson[i] = inner([e.service, e.region]);
  }
  const head = `,${inner([b.cluster, b.node])},`;
  const cloud = `,${JSON.stringify(b.cloud)},`;
  const tail = `,${inner([src.topic, src.partition, src.offset])}]`;
  const noService = '"",""';
  // Addresses repeat within a batch (a pod's, a destination's): each is quoted once.
  const ips = new Map<string, string>();
  const ipJson = (s: string): string => {
    let v = ips.get(s);
    if (v === undefined) ips.set(s, (v = JSON.stringify(ip(s))));
    return v;
  };
  // All flows of a batch usually share their time (the window start): the row's head is built once.
  let lastTime = NaN;
  let rowHead = '';
  const lines = new Array<string>(b.flows.length + 1);
  for (let i = 0; i < b.flows.length; i++) {
    const f = b.flows[i]!;
    const local = localJson[f.local];
    const remote = remoteJson[f.remote];
    if (local === undefined || remote === undefined) throw new PermanentError(`flow ${i} refers to an endpoint outside the batch's ${eps.length}`);
    if (f.time !== lastTime) {
      lastTime = f.time;
      rowHead = `[${Math.floor(f.time / 1000)}${head}`;
    }
    lines[i] =
      `${rowHead}${f.conntrack_id},${f.protocol},"${f.family}","${f.role}",` +
      `${ipJson(f.local_ip)},${f.local_port},${local},` +
      `${ipJson(f.remote_ip)},${f.remote_port},${remote},` +
      `"${lowerClass(f.class)}"${cloud}${f.class === 'CLOUD_SERVICE' ? serviceJson[f.remote] : noService},${f.nat_gateway},` +
      `${f.egress_bytes},${f.ingress_bytes},${f.egress_packets},${f.ingress_packets}${tail}`;
  }
  lines[b.flows.length] = '';
  return { body: lines.join('\n'), rows: b.flows.length };
}

/** A JSON array's elements without the brackets. */
function inner(values: unknown[]): string {
  const s = JSON.stringify(values);
  return s.slice(1, -1);
}
