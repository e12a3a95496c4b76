-- The sink's ledger (libs/clickhouse/src/ingest.ts), replacing sink_chunks (kept, no longer written).
-- Append only, never merged away: a partition's state is its row with the highest
-- (epoch, owner, seq). `claim`: a sink took the partition (epoch = the previous one + 1; the
-- fence); `intent`: a chunk first..last of `rows` rows is being stored; `done`: it is stored,
-- in flows and in the rollups. One row per chunk of up to 1M rows: small, no TTL (a TTL could
-- drop the only row that says where an idle partition stopped).
CREATE TABLE IF NOT EXISTS {{db}}.ingest_ledger
(
    src_topic String,
    src_partition UInt32,
    kind Enum8('claim' = 1, 'intent' = 2, 'done' = 3),
    epoch UInt64,
    owner String,
    seq UInt64,
    first_offset UInt64,
    last_offset UInt64,
    rows UInt64,
    at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = MergeTree
ORDER BY (src_topic, src_partition, epoch, owner, seq);
