-- Hourly rollups, filled by materialized views on `rollup_input` (a Null table: it keeps nothing,
-- it only feeds the views). The sink stores a chunk in flows, then feeds the chunk's rows from
-- flows into rollup_input with the chunk's deduplication token (libs/clickhouse/src/chunks.ts).
-- Not views on flows itself: ClickHouse commits a table's part and its views' parts one by one,
-- so a crash between them left a rollup short (seen in the end-to-end kill test), and the rows
-- could not be fed again without doubling flows. Fed from flows, a chunk can be fed again after a
-- crash with the same token: each view's target keeps its own deduplication window, so the
-- rollup that has the chunk drops it and the one that missed it takes it.
-- The rollups keep long history (flows keeps 30 days).

CREATE TABLE IF NOT EXISTS {{db}}.rollup_input
(
    time DateTime('UTC'),
    cluster String,
    cloud String,
    role String,
    local_namespace String,
    local_workload_kind String,
    local_workload String,
    local_region String,
    remote_ip IPv6,
    remote_port UInt16,
    remote_country String,
    remote_asn UInt32,
    remote_as_org String,
    class String,
    nat_gateway Bool,
    egress_bytes UInt64,
    ingress_bytes UInt64,
    egress_packets UInt64,
    ingress_packets UInt64
)
ENGINE = Null;

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


CREATE MATERIALIZED VIEW IF NOT EXISTS {{db}}.workload_hourly_mv TO {{db}}.workload_hourly AS
SELECT
    toStartOfHour(time) AS hour,
    cluster,
    cloud,
    local_region AS region,
    local_namespace AS namespace,
    local_workload_kind AS workload_kind,
    local_workload AS workload,
    class,
    nat_gateway,
    sum(egress_bytes) AS egress_bytes,
    sum(ingress_bytes) AS ingress_bytes,
    sum(egress_packets) AS egress_packets,
    sum(ingress_packets) AS ingress_packets,
    count() AS flows
FROM {{db}}.rollup_input
GROUP BY hour, cluster, cloud, region, namespace, workload_kind, workload, class, nat_gateway;

CREATE MATERIALIZED VIEW IF NOT EXISTS {{db}}.destinations_hourly_mv TO {{db}}.destinations_hourly AS
SELECT
    toStartOfHour(time) AS hour,
    cluster,
    local_namespace AS namespace,
    local_workload_kind AS workload_kind,
    local_workload AS workload,
    class,
    remote_country,
    remote_asn,
    remote_port,
    sum(egress_bytes) AS egress_bytes,
    sum(ingress_bytes) AS ingress_bytes,
    count() AS flows,
    min(remote_ip) AS sample_ip,
    max(remote_as_org) AS as_org
FROM {{db}}.rollup_input
WHERE role = 'INITIATOR' AND class IN ('internet', 'private', 'direct', 'cloud_service')
GROUP BY hour, cluster, namespace, workload_kind, workload, class, remote_country, remote_asn, remote_port;
