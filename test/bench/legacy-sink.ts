// The sink's store path as it was before issue 9, kept as the bench's baseline for the sink stage
// ("keep the old encoder in the bench as the baseline"): the hand-written encoder, and the old
// protocol (a sink_chunks row, the flows insert, then the rollups fed by reading the chunk back
// from flows). Not used by any production path; no exactly-once claims.
import { FLOW_COLUMNS, ROLLUP_COLUMNS, chunkToken, ip, lowerClass, pricedAs, type RowBlock, type SourceCoordinates, type Store } from '@tollgate/clickhouse';
import { PermanentError } from '@tollgate/pipeline';
import type { EnrichedFlowBatch } from '@tollgate/schema';

export interface LegacyChunk {
  topic: string;
  partition: number;
  first: number;
  last: number;
  rows: number;
  blocks: readonly RowBlock[];
}

/** The old storeChunk: ledger row, flows insert (token), INSERT INTO rollup_input SELECT ... FROM flows (token#r). */
export async function legacyStoreChunk(store: Store, c: LegacyChunk): Promise<void> {
  const db = `\`${store.database}\``;
  const token = chunkToken(c.topic, c.partition, c.first, c.last);
  await store.client.insert({
    table: `${db}.sink_chunks`,
    format: 'JSONEachRow',
    values: [{ src_topic: c.topic, src_partition: c.partition, first_offset: c.first, last_offset: c.last, rows: c.rows }],
    clickhouse_settings: { insert_deduplication_token: '' },
  });
  const body = c.blocks.length === 1 ? c.blocks[0]!.body : c.blocks.map((b) => b.body).join('');
  await store.rawInsert(`${store.database}.flows`, FLOW_COLUMNS, body, {
    insert_deduplicate: 1,
    insert_deduplication_token: token,
    deduplicate_blocks_in_dependent_materialized_views: 1,
    input_format_parallel_parsing: 1,
  }, 'JSONCompactEachRow');
  const cols = ROLLUP_COLUMNS.join(', ');
  await store.client.command({
    query: `INSERT INTO ${db}.rollup_input (${cols})
    SELECT ${cols} FROM ${db}.flows
    WHERE src_topic = {topic:String} AND src_partition = {partition:UInt32} AND src_offset BETWEEN {first:UInt64} AND {last:UInt64}
    SETTINGS insert_deduplicate = 1, insert_deduplication_token = '${token}#r',
      deduplicate_blocks_in_dependent_materialized_views = 1,
      max_threads = 1, max_block_size = 4194304, min_insert_block_size_rows = 4194304, min_insert_block_size_bytes = 0`,
    query_params: { topic: c.topic, partition: c.partition, first: c.first, last: c.last },
  });
}


/**
 * The rows of one flows.enriched.v1 message, straight from the decoded record into
 * JSONCompactEachRow (the sink's hot path before issue 9: no row objects in between), brought
 * to today's columns (labels, priced_as, service, the raw message's agent and seq) so that it
 * inserts the same rows as the production encoder; the bench checks both stored the same.
 */
export function legacyEncodeFlowRows(b: EnrichedFlowBatch, src: SourceCoordinates): RowBlock {
  // The batch's endpoints are few and shared by many flows: their JSON is written once.
  const eps = b.endpoints;
  const localJson = new Array<string>(eps.length);
  const remoteJson = new Array<string>(eps.length);
  const serviceJson = new Array<string>(eps.length);
  for (let i = 0; i < eps.length; i++) {
    const e = eps[i]!;
    localJson[i] = inner([e.kind, e.namespace, e.workload_kind, e.workload, e.pod, e.zone, e.region, e.labels]);
    remoteJson[i] = inner([e.kind, e.namespace, e.workload_kind, e.workload, e.pod, e.node, e.zone, e.region, e.country, e.asn, e.as_org]);
    serviceJson[i] = inner([e.service, e.region]);
  }
  const head = `,${inner([b.cluster, b.node])},`;
  const cloud = `,${JSON.stringify(b.cloud)},`;
  const tail = `,${inner([src.topic, src.partition, src.offset, b.source.agent_id, b.source.seq])}]`;
  const noService = '"",""';
  const services = new Map<string, string>();
  const serviceQ = (s: string): string => {
    let v = services.get(s);
    if (v === undefined) services.set(s, (v = JSON.stringify(s)));
    return v;
  };
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
    const l = eps[f.local];
    const r = eps[f.remote];
    if (local === undefined || remote === undefined || l === undefined || r === undefined) throw new PermanentError(`flow ${i} refers to an endpoint outside the batch's ${eps.length}`);
    if (f.time !== lastTime) {
      lastTime = f.time;
      rowHead = `[${Math.floor(f.time / 1000)}${head}`;
    }
    lines[i] =
      `${rowHead}${f.conntrack_id},${f.protocol},"${f.family}","${f.role}",` +
      `${ipJson(f.local_ip)},${f.local_port},${local},` +
      `${ipJson(f.remote_ip)},${f.remote_port},${remote},` +
      `"${lowerClass(f.class)}","${pricedAs(f.class, l.zone, l.region, r.zone, r.region)}"${cloud}` +
      `${f.class === 'CLOUD_SERVICE' ? serviceJson[f.remote] : noService},${serviceQ(f.service)},${f.nat_gateway},` +
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
