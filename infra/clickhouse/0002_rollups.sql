-- Hourly rollups, materialized from flows chunk by chunk by the sink (INSERT ... SELECT over the
-- chunk's Kafka offsets, libs/clickhouse/src/chunks.ts) rather than by materialized views: the
-- parts an insert writes into a table and into its views' targets are committed one by one, so
-- a crash between them left a rollup short (seen in the end-to-end kill test). Each rollup
-- insert carries its own deduplication token, so finishing a chunk after a crash is exact.
-- They keep long history (flows keeps 30 days).

-- Cost: every byte a workload sent or received, per class.
CREATE TABLE IF NOT EXISTS {{db}}.workload_hourly
(
    hour DateTime('UTC'),
    cluster LowCardinality(String),
    cloud LowCardinality(String),
    region LowCardinality(String),
    namespace LowCardinality(String),
    workload_kind LowCardinality(String),
    workload LowCardinality(String),
    class LowCardinality(String),
    nat_gateway Bool,
    egress_bytes UInt64,
    ingress_bytes UInt64,
    egress_packets UInt64,
    ingress_packets UInt64,
    flows UInt64
)
ENGINE = SummingMergeTree
PARTITION BY toYYYYMM(hour)
ORDER BY (cluster, namespace, workload_kind, workload, hour, class, cloud, region, nat_gateway)
TTL hour + INTERVAL 400 DAY
SETTINGS non_replicated_deduplication_window = 1000;


-- Anomalies: the external destinations a workload opened connections to. Only the
-- INITIATOR side (answers to clients are not new destinations) and external classes.
CREATE TABLE IF NOT EXISTS {{db}}.destinations_hourly
(
    hour DateTime('UTC'),
    cluster LowCardinality(String),
    namespace LowCardinality(String),
    workload_kind LowCardinality(String),
    workload LowCardinality(String),
    class LowCardinality(String),
    remote_country LowCardinality(String),
    remote_asn UInt32,
    remote_port UInt16,
    egress_bytes UInt64,
    ingress_bytes UInt64,
    flows UInt64,
    sample_ip SimpleAggregateFunction(min, IPv6),
    as_org SimpleAggregateFunction(max, String)
)
ENGINE = SummingMergeTree
PARTITION BY toYYYYMM(hour)
ORDER BY (cluster, namespace, workload_kind, workload, hour, class, remote_country, remote_asn, remote_port)
TTL hour + INTERVAL 400 DAY
SETTINGS non_replicated_deduplication_window = 1000;

