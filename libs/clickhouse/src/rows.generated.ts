// Generated from libs/clickhouse/src/flows-table.ts by libs/clickhouse/src/codegen.ts (npm run schemas:gen). Do not edit.
import { PermanentError } from '@tollgate/pipeline';
import type { EnrichedFlowBatch } from '@tollgate/schema';
import { ip, isDestinationRow, lowerClass, pricedAs } from './flows-table.ts';
import { tsvString, mapText } from './text-format.ts';

/** The format of every RowBlock (the insert names it). */
export const ROW_FORMAT = 'TabSeparated' as const;

/** Kafka coordinates of the flows.enriched.v1 message a row came from. */
export interface SourceCoordinates {
  topic: string;
  partition: number;
  offset: number;
}

/** Rows ready for an insert: TabSeparated lines in FLOW_COLUMNS (or ROLLUP_COLUMNS) order, each ending in a newline. */
export interface RowBlock {
  body: string;
  rows: number;
}

/** One row of the `flows` table. */
export interface FlowRow {
  /** DateTime('UTC'): Math.floor(f.time / 1000). Start of the window, Unix seconds (UTC). rollup_input gets its hour: every rollup is by hour or by day. */
  time: number;
  /** String: b.cluster */
  cluster: string;
  /** String: b.node. Node whose agent reported the flow. */
  node: string;
  /** UInt64: f.conntrack_id */
  conntrack_id: number;
  /** UInt8: f.protocol */
  protocol: number;
  /** String: f.family */
  family: string;
  /** String: f.role */
  role: string;
  /** IPv6: ip(f.local_ip). Textual; IPv4 is stored IPv4-mapped, the unknown address '' as '::'. */
  local_ip: string;
  /** UInt16: f.local_port */
  local_port: number;
  /** String: l.kind */
  local_kind: string;
  /** String: l.namespace */
  local_namespace: string;
  /** String: l.workload_kind */
  local_workload_kind: string;
  /** String: l.workload */
  local_workload: string;
  /** String: l.pod */
  local_pod: string;
  /** String: l.zone */
  local_zone: string;
  /** String: l.region */
  local_region: string;
  /** Map(String, String): l.labels. Chargeback labels (TOLLGATE_CHARGEBACK_LABELS) of the local pod, per key its own or its namespace's. */
  local_labels: Record<string, string>;
  /** IPv6: ip(f.remote_ip) */
  remote_ip: string;
  /** UInt16: f.remote_port */
  remote_port: number;
  /** String: r.kind */
  remote_kind: string;
  /** String: r.namespace */
  remote_namespace: string;
  /** String: r.workload_kind */
  remote_workload_kind: string;
  /** String: r.workload */
  remote_workload: string;
  /** String: r.pod */
  remote_pod: string;
  /** String: r.node */
  remote_node: string;
  /** String: r.zone */
  remote_zone: string;
  /** String: r.region */
  remote_region: string;
  /** String: r.country */
  remote_country: string;
  /** UInt32: r.asn */
  remote_asn: number;
  /** String: r.as_org */
  remote_as_org: string;
  /** String: lowerClass(f.class). Lowercase traffic class: 'cross_zone', 'internet', ... */
  class: string;
  /** String: pricedAs(f.class, l.zone, l.region, r.zone, r.region). The class whose price applies (DESIGN.md section 5): the class, except `direct` (priced as same_zone, cross_zone or cross_region by where its range is) and `cloud_service` in another region (cross_region). */
  priced_as: string;
  /** String: b.cloud */
  cloud: string;
  /** String: f.class === 'CLOUD_SERVICE' ? r.service : ''. The remote cloud service (S3, ...) for class cloud_service; else empty. */
  cloud_service: string;
  /** String: f.class === 'CLOUD_SERVICE' ? r.region : '' */
  cloud_service_region: string;
  /** String: f.service. `namespace/name` of the Kubernetes Service the initiator addressed (its ClusterIP, DNAT'd by kube-proxy to the responder); empty otherwise. */
  service: string;
  /** Bool: f.nat_gateway */
  nat_gateway: boolean;
  /** UInt64: f.egress_bytes */
  egress_bytes: number;
  /** UInt64: f.ingress_bytes */
  ingress_bytes: number;
  /** UInt64: f.egress_packets */
  egress_packets: number;
  /** UInt64: f.ingress_packets */
  ingress_packets: number;
  /** String: src.topic. Kafka coordinates of the flows.enriched.v1 message the row came from. */
  src_topic: string;
  /** UInt32: src.partition */
  src_partition: number;
  /** UInt64: src.offset */
  src_offset: number;
  /** String: b.source.agent_id. The agent and batch sequence number of the raw message (flows.raw.v1) the row came from: the sink keeps one copy of a batch an agent sent again after a crash. */
  src_agent_id: string;
  /** UInt64: b.source.seq */
  src_seq: number;
}

/** Column order of the insert (every FlowRow key). */
export const FLOW_COLUMNS = ['time', 'cluster', 'node', 'conntrack_id', 'protocol', 'family', 'role', 'local_ip', 'local_port', 'local_kind', 'local_namespace', 'local_workload_kind', 'local_workload', 'local_pod', 'local_zone', 'local_region', 'local_labels', 'remote_ip', 'remote_port', 'remote_kind', 'remote_namespace', 'remote_workload_kind', 'remote_workload', 'remote_pod', 'remote_node', 'remote_zone', 'remote_region', 'remote_country', 'remote_asn', 'remote_as_org', 'class', 'priced_as', 'cloud', 'cloud_service', 'cloud_service_region', 'service', 'nat_gateway', 'egress_bytes', 'ingress_bytes', 'egress_packets', 'ingress_packets', 'src_topic', 'src_partition', 'src_offset', 'src_agent_id', 'src_seq'] as const satisfies ReadonlyArray<keyof FlowRow>;

/** The columns of rollup_input, which feeds the hourly rollups. */
export const ROLLUP_COLUMNS = ['time', 'cluster', 'role', 'local_namespace', 'local_workload_kind', 'local_workload', 'local_region', 'local_labels', 'remote_ip', 'remote_port', 'remote_country', 'remote_asn', 'remote_as_org', 'class', 'priced_as', 'cloud', 'cloud_service', 'service', 'nat_gateway', 'egress_bytes', 'ingress_bytes', 'egress_packets', 'ingress_packets'] as const satisfies ReadonlyArray<keyof FlowRow>;

/** Column order of a rollup_input insert: the grouping columns, the sums, the weight (`flows`). */
export const ROLLUP_INSERT_COLUMNS = ['time', 'cluster', 'role', 'local_namespace', 'local_workload_kind', 'local_workload', 'local_region', 'local_labels', 'remote_ip', 'remote_port', 'remote_country', 'remote_asn', 'remote_as_org', 'class', 'priced_as', 'cloud', 'cloud_service', 'service', 'nat_gateway', 'egress_bytes', 'ingress_bytes', 'egress_packets', 'ingress_packets', 'flows'] as const;

function outside(i: number, n: number): PermanentError {
  return new PermanentError(`flow ${i} refers to an endpoint outside the batch's ${n}`);
}

/** The rows of one flows.enriched.v1 message. */
export function toFlowRows(b: EnrichedFlowBatch, src: SourceCoordinates): FlowRow[] {
  const eps = b.endpoints;
  return b.flows.map((f, i) => {
    const l = eps[f.local];
    const r = eps[f.remote];
    if (l === undefined || r === undefined) throw outside(i, eps.length);
    return {
      time: Math.floor(f.time / 1000),
      cluster: b.cluster,
      node: b.node,
      conntrack_id: f.conntrack_id,
      protocol: f.protocol,
      family: f.family,
      role: f.role,
      local_ip: ip(f.local_ip),
      local_port: f.local_port,
      local_kind: l.kind,
      local_namespace: l.namespace,
      local_workload_kind: l.workload_kind,
      local_workload: l.workload,
      local_pod: l.pod,
      local_zone: l.zone,
      local_region: l.region,
      local_labels: l.labels,
      remote_ip: ip(f.remote_ip),
      remote_port: f.remote_port,
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
      priced_as: pricedAs(f.class, l.zone, l.region, r.zone, r.region),
      cloud: b.cloud,
      cloud_service: f.class === 'CLOUD_SERVICE' ? r.service : '',
      cloud_service_region: f.class === 'CLOUD_SERVICE' ? r.region : '',
      service: f.service,
      nat_gateway: f.nat_gateway,
      egress_bytes: f.egress_bytes,
      ingress_bytes: f.ingress_bytes,
      egress_packets: f.egress_packets,
      ingress_packets: f.ingress_packets,
      src_topic: src.topic,
      src_partition: src.partition,
      src_offset: src.offset,
      src_agent_id: b.source.agent_id,
      src_seq: b.source.seq,
    };
  });
}

/** A flows row as one TabSeparated line (FLOW_COLUMNS order, no newline). */
export function formatFlowRow(r: FlowRow): string {
  return `${r.time}\t${tsvString(r.cluster)}\t${tsvString(r.node)}\t${r.conntrack_id}\t${r.protocol}\t${tsvString(r.family)}\t${tsvString(r.role)}\t${tsvString(r.local_ip)}\t${r.local_port}\t${tsvString(r.local_kind)}\t${tsvString(r.local_namespace)}\t${tsvString(r.local_workload_kind)}\t${tsvString(r.local_workload)}\t${tsvString(r.local_pod)}\t${tsvString(r.local_zone)}\t${tsvString(r.local_region)}\t${mapText(r.local_labels)}\t${tsvString(r.remote_ip)}\t${r.remote_port}\t${tsvString(r.remote_kind)}\t${tsvString(r.remote_namespace)}\t${tsvString(r.remote_workload_kind)}\t${tsvString(r.remote_workload)}\t${tsvString(r.remote_pod)}\t${tsvString(r.remote_node)}\t${tsvString(r.remote_zone)}\t${tsvString(r.remote_region)}\t${tsvString(r.remote_country)}\t${r.remote_asn}\t${tsvString(r.remote_as_org)}\t${tsvString(r.class)}\t${tsvString(r.priced_as)}\t${tsvString(r.cloud)}\t${tsvString(r.cloud_service)}\t${tsvString(r.cloud_service_region)}\t${tsvString(r.service)}\t${r.nat_gateway}\t${r.egress_bytes}\t${r.ingress_bytes}\t${r.egress_packets}\t${r.ingress_packets}\t${tsvString(r.src_topic)}\t${r.src_partition}\t${r.src_offset}\t${tsvString(r.src_agent_id)}\t${r.src_seq}`;
}

/** A flows row as one rollup_input TabSeparated line of weight 1 (ROLLUP_INSERT_COLUMNS order, no newline). */
export function formatRollupRow(r: FlowRow): string {
  return `${r.time}\t${tsvString(r.cluster)}\t${tsvString(r.role)}\t${tsvString(r.local_namespace)}\t${tsvString(r.local_workload_kind)}\t${tsvString(r.local_workload)}\t${tsvString(r.local_region)}\t${mapText(r.local_labels)}\t${tsvString(r.remote_ip)}\t${r.remote_port}\t${tsvString(r.remote_country)}\t${r.remote_asn}\t${tsvString(r.remote_as_org)}\t${tsvString(r.class)}\t${tsvString(r.priced_as)}\t${tsvString(r.cloud)}\t${tsvString(r.cloud_service)}\t${tsvString(r.service)}\t${r.nat_gateway}\t${r.egress_bytes}\t${r.ingress_bytes}\t${r.egress_packets}\t${r.ingress_packets}\t1`;
}

/** The flows rows of one flows.enriched.v1 message (TabSeparated, FLOW_COLUMNS order). */
export function encodeFlowRows(b: EnrichedFlowBatch, src: SourceCoordinates): RowBlock {
  const eps = b.endpoints;
  const flows8 = new Array<string>(eps.length);
  const flows11 = new Array<string>(eps.length);
  const flows12 = new Array<string>(eps.length);
  for (let k = 0; k < eps.length; k++) {
    const l = eps[k]!;
    const r = eps[k]!;
    flows8[k] = `${tsvString(l.kind)}\t${tsvString(l.namespace)}\t${tsvString(l.workload_kind)}\t${tsvString(l.workload)}\t${tsvString(l.pod)}\t${tsvString(l.zone)}\t${tsvString(l.region)}\t${mapText(l.labels)}`;
    flows11[k] = `${tsvString(r.kind)}\t${tsvString(r.namespace)}\t${tsvString(r.workload_kind)}\t${tsvString(r.workload)}\t${tsvString(r.pod)}\t${tsvString(r.node)}\t${tsvString(r.zone)}\t${tsvString(r.region)}`;
    flows12[k] = `${tsvString(r.country)}\t${r.asn}\t${tsvString(r.as_org)}`;
  }
  const flows1 = `${tsvString(b.cluster)}\t${tsvString(b.node)}`;
  const flows15 = `${tsvString(b.cloud)}`;
  const flows24 = `${tsvString(src.topic)}\t${src.partition}\t${src.offset}\t${tsvString(b.source.agent_id)}\t${b.source.seq}`;
  const strings = new Map<string, string>();
  const q = (s: string): string => {
    let v = strings.get(s);
    if (v === undefined) strings.set(s, (v = tsvString(s)));
    return v;
  };
  const flowsLines = new Array<string>(b.flows.length + 1);
  for (let i = 0; i < b.flows.length; i++) {
    const f = b.flows[i]!;
    if (eps[f.local] === undefined || eps[f.remote] === undefined) throw outside(i, eps.length);
    const l = eps[f.local]!;
    const r = eps[f.remote]!;
    flowsLines[i] = `${Math.floor(f.time / 1000)}\t${flows1}\t${f.conntrack_id}\t${f.protocol}\t${f.family}\t${f.role}\t${q(ip(f.local_ip))}\t${f.local_port}\t${flows8[f.local]}\t${q(ip(f.remote_ip))}\t${f.remote_port}\t${flows11[f.remote]}\t${flows12[f.remote]}\t${lowerClass(f.class)}\t${pricedAs(f.class, l.zone, l.region, r.zone, r.region)}\t${flows15}\t${q(f.class === 'CLOUD_SERVICE' ? r.service : '')}\t${q(f.class === 'CLOUD_SERVICE' ? r.region : '')}\t${q(f.service)}\t${f.nat_gateway}\t${f.egress_bytes}\t${f.ingress_bytes}\t${f.egress_packets}\t${f.ingress_packets}\t${flows24}`;
  }
  flowsLines[b.flows.length] = '';
  return { body: flowsLines.join('\n'), rows: b.flows.length };
}

/** The rollup_input rows of one message, folded (ROLLUP_INSERT_COLUMNS order). */
export function encodeRollupRows(b: EnrichedFlowBatch, src: SourceCoordinates): RowBlock {
  const eps = b.endpoints;
  const ids = new Map<string, number>();
  const id = (s: string): number => {
    let v = ids.get(s);
    if (v === undefined) ids.set(s, (v = ids.size));
    return v;
  };
  const rollup3 = new Array<string>(eps.length);
  const rollup6 = new Array<string>(eps.length);
  const rollup3Id = new Array<number>(eps.length);
  const rollup6Id = new Array<number>(eps.length);
  for (let k = 0; k < eps.length; k++) {
    const l = eps[k]!;
    const r = eps[k]!;
    rollup3[k] = `${tsvString(l.namespace)}\t${tsvString(l.workload_kind)}\t${tsvString(l.workload)}\t${tsvString(l.region)}\t${mapText(l.labels)}`;
    rollup3Id[k] = id(rollup3[k]!);
    rollup6[k] = `${tsvString(r.country)}\t${r.asn}\t${tsvString(r.as_org)}`;
    rollup6Id[k] = id(rollup6[k]!);
  }
  const rollup1 = `${tsvString(b.cluster)}`;
  const rollup4Empty = `${tsvString('::')}`;
  const rollup5Empty = `${0}`;
  const rollup6Empty = `${tsvString('')}\t${0}\t${tsvString('')}`;
  const rollup9 = `${tsvString(b.cloud)}`;
  const rollup10Empty = `${tsvString('')}`;
  void src;
  const strings = new Map<string, string>();
  const q = (s: string): string => {
    let v = strings.get(s);
    if (v === undefined) strings.set(s, (v = tsvString(s)));
    return v;
  };
  // rollup: key -> [egress_bytes, ingress_bytes, egress_packets, ingress_packets, flows]
  const rollupFolded = new Map<string, { row: string; a: [number, number, number, number, number] }>();
  const rollupLines: string[] = [];
  const rollupLine = ({ row, a }: { row: string; a: [number, number, number, number, number] }) => `${row}\t${a[0]}\t${a[1]}\t${a[2]}\t${a[3]}\t${a[4]}`;
  for (let i = 0; i < b.flows.length; i++) {
    const f = b.flows[i]!;
    if (eps[f.local] === undefined || eps[f.remote] === undefined) throw outside(i, eps.length);
    const l = eps[f.local]!;
    const r = eps[f.remote]!;
    const dest = isDestinationRow(f.role, f.class);
    const key = `${Math.floor(f.time / 3_600_000) * 3600},${f.role},${rollup3Id[f.local]},${dest ? id(ip(f.remote_ip)) : -1},${dest ? f.remote_port : -1},${dest ? rollup6Id[f.remote] : -1},${lowerClass(f.class)},${pricedAs(f.class, l.zone, l.region, r.zone, r.region)},${dest ? id(f.class === 'CLOUD_SERVICE' ? r.service : '') : -1},${id(f.service)},${f.nat_gateway}`;
    let fold = rollupFolded.get(key);
    if (fold === undefined) rollupFolded.set(key, (fold = { row: `${Math.floor(f.time / 3_600_000) * 3600}\t${rollup1}\t${f.role}\t${rollup3[f.local]}\t${dest ? `${q(ip(f.remote_ip))}` : rollup4Empty}\t${dest ? `${f.remote_port}` : rollup5Empty}\t${dest ? rollup6[f.remote] : rollup6Empty}\t${lowerClass(f.class)}\t${pricedAs(f.class, l.zone, l.region, r.zone, r.region)}\t${rollup9}\t${dest ? `${q(f.class === 'CLOUD_SERVICE' ? r.service : '')}` : rollup10Empty}\t${q(f.service)}\t${f.nat_gateway}`, a: [0, 0, 0, 0, 0] }));
    else if (fold.a[0] + f.egress_bytes > Number.MAX_SAFE_INTEGER || fold.a[1] + f.ingress_bytes > Number.MAX_SAFE_INTEGER || fold.a[2] + f.egress_packets > Number.MAX_SAFE_INTEGER || fold.a[3] + f.ingress_packets > Number.MAX_SAFE_INTEGER) {
      rollupLines.push(rollupLine(fold));
      fold.a.fill(0);
    }
    const a = fold.a;
    a[0] += f.egress_bytes;
    a[1] += f.ingress_bytes;
    a[2] += f.egress_packets;
    a[3] += f.ingress_packets;
    a[4]++;
  }
  for (const fold of rollupFolded.values()) rollupLines.push(rollupLine(fold));
  rollupLines.push('');
  return { body: rollupLines.join('\n'), rows: rollupLines.length - 1 };
}

/** Rows of `flows` as one array per column (each `rows` long): what the store inserts (columnar.ts). */
export interface FlowColumns {
  rows: number;
  values: { [K in keyof FlowRow]: Array<FlowRow[K]> };
}

/** The flows rows of one flows.enriched.v1 message, as columns. */
export function flowColumns(b: EnrichedFlowBatch, src: SourceCoordinates): FlowColumns {
  const eps = b.endpoints;
  const n = b.flows.length;
  const c_time = new Array<number>(n);
  const c_cluster = new Array<string>(n).fill(b.cluster);
  const c_node = new Array<string>(n).fill(b.node);
  const c_conntrack_id = new Array<number>(n);
  const c_protocol = new Array<number>(n);
  const c_family = new Array<string>(n);
  const c_role = new Array<string>(n);
  const c_local_ip = new Array<string>(n);
  const c_local_port = new Array<number>(n);
  const c_local_kind = new Array<string>(n);
  const c_local_namespace = new Array<string>(n);
  const c_local_workload_kind = new Array<string>(n);
  const c_local_workload = new Array<string>(n);
  const c_local_pod = new Array<string>(n);
  const c_local_zone = new Array<string>(n);
  const c_local_region = new Array<string>(n);
  const c_local_labels = new Array<Record<string, string>>(n);
  const c_remote_ip = new Array<string>(n);
  const c_remote_port = new Array<number>(n);
  const c_remote_kind = new Array<string>(n);
  const c_remote_namespace = new Array<string>(n);
  const c_remote_workload_kind = new Array<string>(n);
  const c_remote_workload = new Array<string>(n);
  const c_remote_pod = new Array<string>(n);
  const c_remote_node = new Array<string>(n);
  const c_remote_zone = new Array<string>(n);
  const c_remote_region = new Array<string>(n);
  const c_remote_country = new Array<string>(n);
  const c_remote_asn = new Array<number>(n);
  const c_remote_as_org = new Array<string>(n);
  const c_class = new Array<string>(n);
  const c_priced_as = new Array<string>(n);
  const c_cloud = new Array<string>(n).fill(b.cloud);
  const c_cloud_service = new Array<string>(n);
  const c_cloud_service_region = new Array<string>(n);
  const c_service = new Array<string>(n);
  const c_nat_gateway = new Array<boolean>(n);
  const c_egress_bytes = new Array<number>(n);
  const c_ingress_bytes = new Array<number>(n);
  const c_egress_packets = new Array<number>(n);
  const c_ingress_packets = new Array<number>(n);
  const c_src_topic = new Array<string>(n).fill(src.topic);
  const c_src_partition = new Array<number>(n).fill(src.partition);
  const c_src_offset = new Array<number>(n).fill(src.offset);
  const c_src_agent_id = new Array<string>(n).fill(b.source.agent_id);
  const c_src_seq = new Array<number>(n).fill(b.source.seq);
  for (let i = 0; i < n; i++) {
    const f = b.flows[i]!;
    const l = eps[f.local];
    const r = eps[f.remote];
    if (l === undefined || r === undefined) throw outside(i, eps.length);
    c_time[i] = Math.floor(f.time / 1000);
    c_conntrack_id[i] = f.conntrack_id;
    c_protocol[i] = f.protocol;
    c_family[i] = f.family;
    c_role[i] = f.role;
    c_local_ip[i] = ip(f.local_ip);
    c_local_port[i] = f.local_port;
    c_local_kind[i] = l.kind;
    c_local_namespace[i] = l.namespace;
    c_local_workload_kind[i] = l.workload_kind;
    c_local_workload[i] = l.workload;
    c_local_pod[i] = l.pod;
    c_local_zone[i] = l.zone;
    c_local_region[i] = l.region;
    c_local_labels[i] = l.labels;
    c_remote_ip[i] = ip(f.remote_ip);
    c_remote_port[i] = f.remote_port;
    c_remote_kind[i] = r.kind;
    c_remote_namespace[i] = r.namespace;
    c_remote_workload_kind[i] = r.workload_kind;
    c_remote_workload[i] = r.workload;
    c_remote_pod[i] = r.pod;
    c_remote_node[i] = r.node;
    c_remote_zone[i] = r.zone;
    c_remote_region[i] = r.region;
    c_remote_country[i] = r.country;
    c_remote_asn[i] = r.asn;
    c_remote_as_org[i] = r.as_org;
    c_class[i] = lowerClass(f.class);
    c_priced_as[i] = pricedAs(f.class, l.zone, l.region, r.zone, r.region);
    c_cloud_service[i] = f.class === 'CLOUD_SERVICE' ? r.service : '';
    c_cloud_service_region[i] = f.class === 'CLOUD_SERVICE' ? r.region : '';
    c_service[i] = f.service;
    c_nat_gateway[i] = f.nat_gateway;
    c_egress_bytes[i] = f.egress_bytes;
    c_ingress_bytes[i] = f.ingress_bytes;
    c_egress_packets[i] = f.egress_packets;
    c_ingress_packets[i] = f.ingress_packets;
  }
  return { rows: n, values: { time: c_time, cluster: c_cluster, node: c_node, conntrack_id: c_conntrack_id, protocol: c_protocol, family: c_family, role: c_role, local_ip: c_local_ip, local_port: c_local_port, local_kind: c_local_kind, local_namespace: c_local_namespace, local_workload_kind: c_local_workload_kind, local_workload: c_local_workload, local_pod: c_local_pod, local_zone: c_local_zone, local_region: c_local_region, local_labels: c_local_labels, remote_ip: c_remote_ip, remote_port: c_remote_port, remote_kind: c_remote_kind, remote_namespace: c_remote_namespace, remote_workload_kind: c_remote_workload_kind, remote_workload: c_remote_workload, remote_pod: c_remote_pod, remote_node: c_remote_node, remote_zone: c_remote_zone, remote_region: c_remote_region, remote_country: c_remote_country, remote_asn: c_remote_asn, remote_as_org: c_remote_as_org, class: c_class, priced_as: c_priced_as, cloud: c_cloud, cloud_service: c_cloud_service, cloud_service_region: c_cloud_service_region, service: c_service, nat_gateway: c_nat_gateway, egress_bytes: c_egress_bytes, ingress_bytes: c_ingress_bytes, egress_packets: c_egress_packets, ingress_packets: c_ingress_packets, src_topic: c_src_topic, src_partition: c_src_partition, src_offset: c_src_offset, src_agent_id: c_src_agent_id, src_seq: c_src_seq } };
}

/** Hand-made rows (tests, tools) as columns. */
export function columnsOf(rows: readonly FlowRow[]): FlowColumns {
  return { rows: rows.length, values: { time: rows.map((r) => r.time), cluster: rows.map((r) => r.cluster), node: rows.map((r) => r.node), conntrack_id: rows.map((r) => r.conntrack_id), protocol: rows.map((r) => r.protocol), family: rows.map((r) => r.family), role: rows.map((r) => r.role), local_ip: rows.map((r) => r.local_ip), local_port: rows.map((r) => r.local_port), local_kind: rows.map((r) => r.local_kind), local_namespace: rows.map((r) => r.local_namespace), local_workload_kind: rows.map((r) => r.local_workload_kind), local_workload: rows.map((r) => r.local_workload), local_pod: rows.map((r) => r.local_pod), local_zone: rows.map((r) => r.local_zone), local_region: rows.map((r) => r.local_region), local_labels: rows.map((r) => r.local_labels), remote_ip: rows.map((r) => r.remote_ip), remote_port: rows.map((r) => r.remote_port), remote_kind: rows.map((r) => r.remote_kind), remote_namespace: rows.map((r) => r.remote_namespace), remote_workload_kind: rows.map((r) => r.remote_workload_kind), remote_workload: rows.map((r) => r.remote_workload), remote_pod: rows.map((r) => r.remote_pod), remote_node: rows.map((r) => r.remote_node), remote_zone: rows.map((r) => r.remote_zone), remote_region: rows.map((r) => r.remote_region), remote_country: rows.map((r) => r.remote_country), remote_asn: rows.map((r) => r.remote_asn), remote_as_org: rows.map((r) => r.remote_as_org), class: rows.map((r) => r.class), priced_as: rows.map((r) => r.priced_as), cloud: rows.map((r) => r.cloud), cloud_service: rows.map((r) => r.cloud_service), cloud_service_region: rows.map((r) => r.cloud_service_region), service: rows.map((r) => r.service), nat_gateway: rows.map((r) => r.nat_gateway), egress_bytes: rows.map((r) => r.egress_bytes), ingress_bytes: rows.map((r) => r.ingress_bytes), egress_packets: rows.map((r) => r.egress_packets), ingress_packets: rows.map((r) => r.ingress_packets), src_topic: rows.map((r) => r.src_topic), src_partition: rows.map((r) => r.src_partition), src_offset: rows.map((r) => r.src_offset), src_agent_id: rows.map((r) => r.src_agent_id), src_seq: rows.map((r) => r.src_seq) } };
}
