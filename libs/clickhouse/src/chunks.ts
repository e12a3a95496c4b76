import { ROLLUP_COLUMNS } from './rows.ts';

// Exactly-once storage of a chunk of Kafka messages (one partition, offsets first..last):
//
//   1. a ledger row (sink_chunks)
//   2. the rows into flows (token)
//   3. the chunk's rows from flows into rollup_input (token #r), whose materialized views fill
//      workload_hourly and destinations_hourly
//
// An insert into flows stays inside one monthly partition (the sink cuts chunks at month
// boundaries), so it is one part, committed atomically. A partition's chunks are stored one
// after the other, so a ledger row means every earlier chunk is complete; after a crash the
// last chunk of a partition has either its rows in flows (step 3 is replayed with the same
// token: each rollup drops the block it already has) or none of them (it is read from Kafka
// again). Step 3 reads with one thread and blocks larger than any chunk, so a replay feeds the
// views the same single block, with the same token, as the first run.

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

const ROLLUP_LIST = ROLLUP_COLUMNS.join(', ');

/** Step 3, as one statement (query parameters: topic, partition, first, last). */
export function rollupStatement(db: string, token: string): string {
  return `INSERT INTO ${db}.rollup_input (${ROLLUP_LIST})
    SELECT ${ROLLUP_LIST} FROM ${db}.flows
    WHERE src_topic = {topic:String} AND src_partition = {partition:UInt32} AND src_offset BETWEEN {first:UInt64} AND {last:UInt64}
    SETTINGS insert_deduplicate = 1, insert_deduplication_token = ${tokenLiteral(`${token}#r`)},
      deduplicate_blocks_in_dependent_materialized_views = 1,
      max_threads = 1, max_block_size = 4194304, min_insert_block_size_rows = 4194304, min_insert_block_size_bytes = 0`;
}
