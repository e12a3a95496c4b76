// Exactly-once storage of a chunk of Kafka messages (one partition, offsets first..last):
//
//   1. a ledger row (sink_chunks)            3. rollup workload_hourly from flows (token #w)
//   2. rows into flows (token)               4. rollup destinations_hourly from flows (token #d)
//
// An insert into flows stays inside one monthly partition (the sink cuts chunks at month
// boundaries), so it is one part, committed atomically. A partition's chunks are stored one
// after the other, so a ledger row means every earlier chunk is complete; after a crash the
// last chunk of a partition has either its rows in flows (steps 3-4 are replayed: their tokens
// make them idempotent) or none of them (it is read from Kafka again).

/** Deduplication token of a chunk: the Kafka coordinates of its messages. */
export function chunkToken(topic: string, partition: number, first: number, last: number): string {
  return `${topic}/${partition}/${first}-${last}`;
}

const TOKEN = /^[A-Za-z0-9._\/#-]+$/;

/** A token as an SQL string literal. Tokens are built from topic names and numbers; anything else is refused. */
export function tokenLiteral(token: string): string {
  if (!TOKEN.test(token)) throw new Error(`refusing an unexpected deduplication token: ${JSON.stringify(token)}`);
  return `'${token}'`;
}

/** The rollups, as INSERT ... SELECT over one chunk of flows (query parameters: topic, partition, first, last). */
export function rollupStatements(db: string, token: string): string[] {
  const settings = (suffix: string) =>
    `SETTINGS insert_deduplicate = 1, insert_deduplication_token = ${tokenLiteral(`${token}#${suffix}`)}, max_threads = 1`;
  const chunk = `src_topic = {topic:String} AND src_partition = {partition:UInt32} AND src_offset BETWEEN {first:UInt64} AND {last:UInt64}`;
  return [
    `INSERT INTO ${db}.workload_hourly
     SELECT toStartOfHour(time) AS hour, cluster, cloud, local_region AS region, local_namespace AS namespace,
            local_workload_kind AS workload_kind, local_workload AS workload, class, nat_gateway,
            sum(egress_bytes) AS egress_bytes, sum(ingress_bytes) AS ingress_bytes,
            sum(egress_packets) AS egress_packets, sum(ingress_packets) AS ingress_packets, count() AS flows
     FROM ${db}.flows
     WHERE ${chunk}
     GROUP BY hour, cluster, cloud, region, namespace, workload_kind, workload, class, nat_gateway
     ${settings('w')}`,
    `INSERT INTO ${db}.destinations_hourly
     SELECT toStartOfHour(time) AS hour, cluster, local_namespace AS namespace, local_workload_kind AS workload_kind,
            local_workload AS workload, class, remote_country, remote_asn, remote_port,
            sum(egress_bytes) AS egress_bytes, sum(ingress_bytes) AS ingress_bytes, count() AS flows,
            min(remote_ip) AS sample_ip, max(toString(remote_as_org)) AS as_org
     FROM ${db}.flows
     WHERE ${chunk} AND role = 'INITIATOR' AND class IN ('internet', 'private', 'direct', 'cloud_service')
     GROUP BY hour, cluster, namespace, workload_kind, workload, class, remote_country, remote_asn, remote_port
     ${settings('d')}`,
  ];
}
