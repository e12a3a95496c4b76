-- Chargeback labels in the rollups (issue 8): per hour, workload and chargeback label
-- (TOLLGATE_CHARGEBACK_LABELS: the local pod's own value, else its namespace's), the bytes by class,
-- from rollup_input's local_labels (0052). A flow whose pod has no value for a key is not in that
-- key's rows: `tollgate report --by label:<key>` lists it as "(none)" (the workload total less
-- its labelled part). Kept 2 years like the other hourly rollups. Every statement is safe to replay.
CREATE TABLE IF NOT EXISTS {{db}}.label_hourly
(
    hour DateTime('UTC'),
    cluster LowCardinality(String),
    cloud LowCardinality(String),
    region LowCardinality(String),
    namespace LowCardinality(String),
    workload_kind LowCardinality(String),
    workload LowCardinality(String),
    label_key LowCardinality(String),
    label_value LowCardinality(String),
    class LowCardinality(String),
    nat_gateway Bool,
    priced_as LowCardinality(String),
    egress_bytes UInt64,
    ingress_bytes UInt64,
    flows UInt64
)
ENGINE = SummingMergeTree
PARTITION BY toYYYYMM(hour)
ORDER BY (label_key, label_value, cluster, namespace, workload_kind, workload, hour, class, cloud, region, nat_gateway, priced_as)
TTL hour + INTERVAL 730 DAY
SETTINGS non_replicated_deduplication_window = 1000;

-- What raw flows still hold (14 days), once: only while label_hourly is empty (the sink feeds
-- rollup_input only after the migrations ran, so no row passes the view before this copy).
INSERT INTO {{db}}.label_hourly
SELECT toStartOfHour(time) AS hour, cluster, cloud, local_region AS region, local_namespace AS namespace,
       local_workload_kind AS workload_kind, local_workload AS workload, label_key, label_value, class, nat_gateway, priced_as,
       sum(egress_bytes), sum(ingress_bytes), count()
FROM {{db}}.flows
ARRAY JOIN mapKeys(local_labels) AS label_key, mapValues(local_labels) AS label_value
WHERE (SELECT count() FROM {{db}}.label_hourly) = 0
GROUP BY hour, cluster, cloud, region, namespace, workload_kind, workload, label_key, label_value, class, nat_gateway, priced_as
SETTINGS max_rows_to_group_by = 0, group_by_overflow_mode = 'throw';

CREATE MATERIALIZED VIEW IF NOT EXISTS {{db}}.label_hourly_mv TO {{db}}.label_hourly AS
SELECT
    toStartOfHour(time) AS hour,
    cluster,
    cloud,
    local_region AS region,
    local_namespace AS namespace,
    local_workload_kind AS workload_kind,
    local_workload AS workload,
    label_key,
    label_value,
    class,
    nat_gateway,
    priced_as,
    sum(egress_bytes) AS egress_bytes,
    sum(ingress_bytes) AS ingress_bytes,
    count() AS flows
FROM {{db}}.rollup_input
ARRAY JOIN mapKeys(local_labels) AS label_key, mapValues(local_labels) AS label_value
GROUP BY hour, cluster, cloud, region, namespace, workload_kind, workload, label_key, label_value, class, nat_gateway, priced_as;

-- label_cost_hourly (bytes x price per label value) is in 0054, with the one price lookup.
