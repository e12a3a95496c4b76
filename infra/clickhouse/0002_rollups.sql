-- Hourly rollups, filled by materialized views on every insert into flows. They keep long
-- history (flows keeps 30 days). Each target table has its own deduplication window so a
-- retried insert (same insert_deduplication_token) is dropped here too.

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
FROM {{db}}.flows
GROUP BY hour, cluster, cloud, region, namespace, workload_kind, workload, class, nat_gateway;

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
    max(toString(remote_as_org)) AS as_org
FROM {{db}}.flows
WHERE role = 'INITIATOR' AND class IN ('internet', 'private', 'direct', 'cloud_service')
GROUP BY hour, cluster, namespace, workload_kind, workload, class, remote_country, remote_asn, remote_port;
