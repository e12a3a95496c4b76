// The `flows` row, described once: each column's name, ClickHouse type (and codec), and where
// it comes from in the enriched record (a TypeScript expression over the decoded batch).
//
// Everything else is generated from this list (`npm run schemas:gen`, libs/clickhouse/src/codegen.ts):
//   - rows.generated.ts: the FlowRow type, FLOW_COLUMNS (the insert's column order),
//     ROLLUP_COLUMNS (what feeds rollup_input), toFlowRows and the sink's encoders;
//   - a migration that adds the columns the applied migrations do not have yet.
// A test fails when the generated file, or the applied DDL (0001_flows.sql and later ALTERs,
// 0002_rollups.sql's rollup_input), differs from this list.
//
// Adding a column: one entry here, then `npm run schemas:gen`.

/**
 * Where an expression reads from, in the generated code:
 *   b   the EnrichedFlowBatch          src  the SourceCoordinates (topic, partition, offset) of its Kafka message
 *   f   the EnrichedFlow               l, r the flow's local and remote Endpoint (b.endpoints[f.local], [f.remote])
 * `scope` is the widest of them an expression uses: 'batch' (b, src), 'local' (l), 'remote' (r), 'flow' (f, and l or r).
 * The encoder computes a batch column once per message and an endpoint column once per endpoint.
 */
export type Scope = 'batch' | 'local' | 'remote' | 'flow';

export interface FlowColumn {
  name: string;
  /** ClickHouse type, as in the DDL. */
  type: string;
  codec?: string;
  scope: Scope;
  /** TypeScript expression of the value (see Scope). */
  from: string;
  /** The expression yields one of a few identifiers (an Avro enum): written without JSON escaping. */
  symbol?: boolean;
  /** Also a column of rollup_input (what the hourly rollups aggregate). */
  rollup?: boolean;
  /**
   * How the sink's encoder folds a message's flows into fewer rollup_input rows (one per distinct
   * value of the other rollup columns, with `flows` the number of flows folded): 'sum' adds the
   * values up; 'destination' is kept on destination rows only (isDestinationRow) and written as its
   * type's empty value on the others. Unset: a grouping column.
   */
  rollupAs?: 'sum' | 'destination';
  /** The value fed to rollup_input when it differs from `from` (the time, to the hour). */
  rollupFrom?: string;
  /** A DEFAULT expression in the DDL. */
  default?: string;
  doc?: string;
}

const ep = (side: 'local' | 'remote', field: string, extra: Partial<FlowColumn> = {}): FlowColumn => ({
  name: `${side}_${field}`,
  type: 'String',
  scope: side,
  from: `${side === 'local' ? 'l' : 'r'}.${field}`,
  ...extra,
});

export const FLOW_TABLE: readonly FlowColumn[] = [
  {
    name: 'time',
    type: "DateTime('UTC')",
    codec: 'Delta, ZSTD',
    scope: 'flow',
    from: 'Math.floor(f.time / 1000)',
    rollup: true,
    rollupFrom: 'Math.floor(f.time / 3_600_000) * 3600',
    doc: 'Start of the window, Unix seconds (UTC). rollup_input gets its hour: every rollup is by hour or by day.',
  },
  { name: 'cluster', type: 'String', scope: 'batch', from: 'b.cluster', rollup: true },
  { name: 'node', type: 'String', scope: 'batch', from: 'b.node', doc: 'Node whose agent reported the flow.' },
  { name: 'conntrack_id', type: 'UInt64', scope: 'flow', from: 'f.conntrack_id' },
  { name: 'protocol', type: 'UInt8', scope: 'flow', from: 'f.protocol' },
  { name: 'family', type: 'String', scope: 'flow', from: 'f.family', symbol: true },
  { name: 'role', type: 'String', scope: 'flow', from: 'f.role', symbol: true, rollup: true },
  { name: 'local_ip', type: 'IPv6', scope: 'flow', from: 'ip(f.local_ip)', doc: "Textual; IPv4 is stored IPv4-mapped, the unknown address '' as '::'." },
  { name: 'local_port', type: 'UInt16', scope: 'flow', from: 'f.local_port' },
  ep('local', 'kind', { symbol: true }),
  ep('local', 'namespace', { rollup: true }),
  ep('local', 'workload_kind', { rollup: true }),
  ep('local', 'workload', { rollup: true }),
  ep('local', 'pod'),
  ep('local', 'zone'),
  ep('local', 'region', { rollup: true }),
  { name: 'local_labels', type: 'Map(String, String)', scope: 'local', from: 'l.labels', rollup: true, doc: "Chargeback labels (TOLLGATE_CHARGEBACK_LABELS) of the local pod, per key its own or its namespace's." },
  { name: 'remote_ip', type: 'IPv6', scope: 'flow', from: 'ip(f.remote_ip)', rollup: true, rollupAs: 'destination' },
  { name: 'remote_port', type: 'UInt16', scope: 'flow', from: 'f.remote_port', rollup: true, rollupAs: 'destination' },
  ep('remote', 'kind', { symbol: true }),
  ep('remote', 'namespace'),
  ep('remote', 'workload_kind'),
  ep('remote', 'workload'),
  ep('remote', 'pod'),
  ep('remote', 'node'),
  ep('remote', 'zone'),
  ep('remote', 'region'),
  ep('remote', 'country', { rollup: true, rollupAs: 'destination' }),
  { name: 'remote_asn', type: 'UInt32', scope: 'remote', from: 'r.asn', rollup: true, rollupAs: 'destination' },
  ep('remote', 'as_org', { rollup: true, rollupAs: 'destination' }),
  { name: 'class', type: 'String', scope: 'flow', from: 'lowerClass(f.class)', symbol: true, rollup: true, doc: "Lowercase traffic class: 'cross_zone', 'internet', ..." },
  {
    name: 'priced_as',
    type: 'String',
    scope: 'flow',
    from: 'pricedAs(f.class, l.zone, l.region, r.zone, r.region)',
    symbol: true,
    rollup: true,
    doc: "The class whose price applies (DESIGN.md section 5): the class, except `direct` (priced as same_zone, cross_zone or cross_region by where its range is) and `cloud_service` in another region (cross_region).",
  },
  { name: 'cloud', type: 'String', scope: 'batch', from: 'b.cloud', rollup: true },
  {
    name: 'cloud_service',
    type: 'String',
    scope: 'flow',
    from: "f.class === 'CLOUD_SERVICE' ? r.service : ''",
    rollup: true,
    rollupAs: 'destination',
    doc: 'The remote cloud service (S3, ...) for class cloud_service; else empty.',
  },
  { name: 'cloud_service_region', type: 'String', scope: 'flow', from: "f.class === 'CLOUD_SERVICE' ? r.region : ''" },
  { name: 'service', type: 'String', scope: 'flow', from: 'f.service', rollup: true, doc: "`namespace/name` of the Kubernetes Service the initiator addressed (its ClusterIP, DNAT'd by kube-proxy to the responder); empty otherwise." },
  { name: 'nat_gateway', type: 'Bool', scope: 'flow', from: 'f.nat_gateway', rollup: true },
  { name: 'egress_bytes', type: 'UInt64', scope: 'flow', from: 'f.egress_bytes', rollup: true, rollupAs: 'sum' },
  { name: 'ingress_bytes', type: 'UInt64', scope: 'flow', from: 'f.ingress_bytes', rollup: true, rollupAs: 'sum' },
  { name: 'egress_packets', type: 'UInt64', scope: 'flow', from: 'f.egress_packets', rollup: true, rollupAs: 'sum' },
  { name: 'ingress_packets', type: 'UInt64', scope: 'flow', from: 'f.ingress_packets', rollup: true, rollupAs: 'sum' },
  { name: 'src_topic', type: 'String', scope: 'batch', from: 'src.topic', doc: 'Kafka coordinates of the flows.enriched.v1 message the row came from.' },
  { name: 'src_partition', type: 'UInt32', scope: 'batch', from: 'src.partition' },
  { name: 'src_offset', type: 'UInt64', scope: 'batch', from: 'src.offset' },
  {
    name: 'src_agent_id',
    type: 'String',
    scope: 'batch',
    from: 'b.source.agent_id',
    doc: 'The agent and batch sequence number of the raw message (flows.raw.v1) the row came from: the sink keeps one copy of a batch an agent sent again after a crash.',
  },
  { name: 'src_seq', type: 'UInt64', scope: 'batch', from: 'b.source.seq' },
];

/** The TypeScript type of a column's values (what @clickhouse/client takes in JSON formats). */
export function tsType(chType: string): 'string' | 'number' | 'boolean' | 'Record<string, string>' {
  if (chType === 'Bool') return 'boolean';
  if (chType === 'Map(String, String)') return 'Record<string, string>';
  if (/^(U?Int(8|16|32|64)|Float(32|64)|DateTime(\(.*\))?|Date)$/.test(chType)) return 'number';
  if (/^(String|IPv4|IPv6|LowCardinality\(String\))$/.test(chType)) return 'string';
  throw new Error(`flows-table: no TypeScript type for ClickHouse type ${chType}`);
}

/** One column of a CREATE TABLE / ADD COLUMN, as the migrations write it. */
export function columnDdl(c: Pick<FlowColumn, 'name' | 'type' | 'codec' | 'default'>): string {
  return `${c.name} ${c.type}${c.default ? ` DEFAULT ${c.default}` : ''}${c.codec ? ` CODEC(${c.codec})` : ''}`;
}

/**
 * rollup_input's weight: how many flows a row stands for (the sink folds a message's flows with
 * the same rollup values into one row; the views sum it where they counted rows). DEFAULT 1: a
 * row fed without it (INSERT ... SELECT from flows) is one flow.
 */
export const ROLLUP_WEIGHT: FlowColumn = { name: 'flows', type: 'UInt64', default: '1', scope: 'batch', from: '1', doc: 'Flows this rollup_input row stands for.' };

/** rollup_input's columns: the rollup subset, without codecs (a Null table stores nothing), and the weight. */
export function rollupColumns(table: readonly FlowColumn[] = FLOW_TABLE): FlowColumn[] {
  return [...table.filter((c) => c.rollup).map(({ codec: _codec, ...c }) => c), ROLLUP_WEIGHT];
}

/**
 * Whether a flow is a destination row: opened by the workload (INITIATOR) to an external class.
 * The same predicate as the WHERE of the views that read the remote columns of rollup_input
 * (destinations_hourly_mv, destination_keys_daily_mv: infra/clickhouse/0058_rollup_weight.sql);
 * the sink leaves those columns empty on the other rows, which no view reads them on. The
 * rollup-feed test (rollup-feed.test.ts) stores both feeds and compares every rollup.
 */
export function isDestinationRow(role: string, cls: string): boolean {
  return role === 'INITIATOR' && (cls === 'INTERNET' || cls === 'PRIVATE' || cls === 'DIRECT' || cls === 'CLOUD_SERVICE');
}

// Helpers the generated expressions call.

const CLASS_LOWER: Record<string, string> = {};
/** 'CROSS_ZONE' -> 'cross_zone' (memoized: a few symbols, millions of rows). */
export function lowerClass(c: string): string {
  return (CLASS_LOWER[c] ??= c.toLowerCase());
}

/**
 * The class whose price a flow pays: classes that name a place are priced by where that place is.
 * `direct` (a CIDR mapped to a region and zone) costs what in-cluster traffic there would cost;
 * `cloud_service` is free of transfer charges in the cluster's region and cross-region elsewhere.
 * A place Tollgate does not know (no zone or region) keeps the class, priced as configured.
 */
export function pricedAs(cls: string, localZone: string, localRegion: string, remoteZone: string, remoteRegion: string): string {
  if (cls === 'DIRECT') {
    if (!remoteRegion || !localRegion) return 'direct';
    if (remoteRegion !== localRegion) return 'cross_region';
    if (!remoteZone || !localZone) return 'direct';
    return remoteZone === localZone ? 'same_zone' : 'cross_zone';
  }
  if (cls === 'CLOUD_SERVICE' && remoteRegion && localRegion && remoteRegion !== localRegion) return 'cross_region';
  return lowerClass(cls);
}

/** The unknown address (empty string in the record) as IPv6 '::'; a zone index (fe80::1%eth0) dropped. */
export function ip(s: string): string {
  if (s === '') return '::';
  const zone = s.indexOf('%');
  return zone < 0 ? s : s.slice(0, zone);
}
