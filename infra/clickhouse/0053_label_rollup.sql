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

-- Cost per label value, workload and hour, priced at query time as workload_cost_hourly (0041).
CREATE OR REPLACE VIEW {{db}}.label_cost_hourly AS
SELECT
    hour, label_key, label_value, cluster, namespace, workload_kind, workload, class,
    sum(eb) AS egress_bytes,
    sum(ib) AS ingress_bytes,
    sum(e_usd) AS egress_usd,
    sum(i_usd) AS ingress_usd,
    sum(n_usd) AS nat_usd,
    egress_usd + ingress_usd + nat_usd AS total_usd
FROM (
    SELECT
        w.hour AS hour, w.label_key AS label_key, w.label_value AS label_value, w.cluster AS cluster, w.namespace AS namespace,
        w.workload_kind AS workload_kind, w.workload AS workload, w.class AS class, w.egress_bytes AS eb, w.ingress_bytes AS ib,
        w.egress_bytes / 1073741824 * if(ps.has_egress, ps.egress_usd_per_gib, pw.egress_usd_per_gib) AS e_usd,
        w.ingress_bytes / 1073741824 * if(ps.has_ingress, ps.ingress_usd_per_gib, pw.ingress_usd_per_gib) AS i_usd,
        if(w.nat_gateway,
            w.egress_bytes / 1073741824 * if(ns.has_egress, ns.egress_usd_per_gib, nw.egress_usd_per_gib)
            + w.ingress_bytes / 1073741824 * if(ns.has_ingress, ns.ingress_usd_per_gib, nw.ingress_usd_per_gib),
            0) AS n_usd
    FROM (SELECT *, if(priced_as = '', class, priced_as) AS price_class FROM {{db}}.label_hourly) AS w
    LEFT JOIN {{db}}.prices_current AS ps ON ps.cloud = w.cloud AND ps.region = w.region AND ps.class = w.price_class
    LEFT JOIN (SELECT * FROM {{db}}.prices_current WHERE region = '*') AS pw ON pw.cloud = w.cloud AND pw.class = w.price_class
    LEFT JOIN (SELECT * FROM {{db}}.prices_current WHERE class = 'nat_gateway') AS ns ON ns.cloud = w.cloud AND ns.region = w.region
    LEFT JOIN (SELECT * FROM {{db}}.prices_current WHERE class = 'nat_gateway' AND region = '*') AS nw ON nw.cloud = w.cloud
)
GROUP BY hour, label_key, label_value, cluster, namespace, workload_kind, workload, class
SETTINGS max_rows_to_group_by = 0, group_by_overflow_mode = 'throw';
