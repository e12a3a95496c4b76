-- One row per EnrichedFlow (flows.enriched.v1), flattened. {{db}} is the validated database
-- identifier (TOLLGATE_CLICKHOUSE_DATABASE); every statement is idempotent so a migration
-- that crashed half way replays safely.
-- Strings are plain String here, not LowCardinality: measured in chDB 26.7, parsing 30
-- LowCardinality columns doubled the insert cost (~0.9 s vs ~0.45 s per 100k rows); the
-- sort order keeps them compressed, and the rollups (what reports read) use LowCardinality.
CREATE TABLE IF NOT EXISTS {{db}}.flows
(
    time DateTime('UTC') CODEC(Delta, ZSTD),
    cluster String,
    node String,
    conntrack_id UInt64,
    protocol UInt8,
    family String,
    role String,
    local_ip IPv6,
    local_port UInt16,
    local_kind String,
    local_namespace String,
    local_workload_kind String,
    local_workload String,
    local_pod String,
    local_zone String,
    local_region String,
    remote_ip IPv6,
    remote_port UInt16,
    remote_kind String,
    remote_namespace String,
    remote_workload_kind String,
    remote_workload String,
    remote_pod String,
    remote_node String,
    remote_zone String,
    remote_region String,
    remote_country String,
    remote_asn UInt32,
    remote_as_org String,
    class String,
    cloud String,
    cloud_service String,
    cloud_service_region String,
    nat_gateway Bool,
    egress_bytes UInt64,
    ingress_bytes UInt64,
    egress_packets UInt64,
    ingress_packets UInt64,
    src_topic String,
    src_partition UInt32,
    src_offset UInt64,
    INDEX src_offset_idx src_offset TYPE minmax GRANULARITY 1
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(time)
ORDER BY (cluster, local_namespace, local_workload_kind, local_workload, time)
TTL time + INTERVAL 30 DAY
SETTINGS non_replicated_deduplication_window = 1000, ttl_only_drop_parts = 1;

-- The sink's ledger: a row per chunk of Kafka messages, written before the chunk is stored.
-- Chunks of a partition are stored one after the other, so only the last one can have been
-- interrupted; a restarted sink finishes it (from flows, which an insert fills atomically) or
-- reads it from Kafka again if flows has none of it. See libs/clickhouse/src/chunks.ts.
CREATE TABLE IF NOT EXISTS {{db}}.sink_chunks
(
    src_topic String,
    src_partition UInt32,
    first_offset UInt64,
    last_offset UInt64,
    rows UInt64,
    at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = MergeTree
ORDER BY (src_topic, src_partition, last_offset)
TTL toDateTime(at) + INTERVAL 30 DAY;
