-- Retention (issue 8): raw flows keep 14 days by default (was 30), the hourly rollups 2 years
-- (0021), and a daily rollup keeps every day forever. Long ranges read rollups, never raw rows.
-- Change the raw retention with `ALTER TABLE flows MODIFY TTL time + INTERVAL <n> DAY`; the sink
-- feeds late rows older than 11 days from their own rows (libs/clickhouse/src/ingest.ts), so a row
-- read back from flows is always far from the TTL. Every statement is safe to replay.
ALTER TABLE {{db}}.flows MODIFY TTL time + INTERVAL 14 DAY;

-- The daily rollup: workload_hourly's key with the day instead of the hour, no TTL.
CREATE TABLE IF NOT EXISTS {{db}}.workload_daily
(
    day Date,
    cluster LowCardinality(String),
    cloud LowCardinality(String),
    region LowCardinality(String),
    namespace LowCardinality(String),
    workload_kind LowCardinality(String),
    workload LowCardinality(String),
    class LowCardinality(String),
    nat_gateway Bool,
    priced_as LowCardinality(String),
    egress_bytes UInt64,
    ingress_bytes UInt64,
    egress_packets UInt64,
    ingress_packets UInt64,
    flows UInt64
)
ENGINE = SummingMergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (cluster, namespace, workload_kind, workload, day, class, cloud, region, nat_gateway, priced_as)
SETTINGS non_replicated_deduplication_window = 1000;

-- What the hourly rollups already hold, once: only while the daily rollup is still empty (a replay
-- after the view below was created finds rows and copies nothing; the sink feeds rollup_input only
-- after the migrations ran, so no row passes the view before this copy).
INSERT INTO {{db}}.workload_daily
SELECT toDate(hour) AS day, cluster, cloud, region, namespace, workload_kind, workload, class, nat_gateway, priced_as,
       sum(egress_bytes), sum(ingress_bytes), sum(egress_packets), sum(ingress_packets), sum(flows)
FROM {{db}}.workload_hourly
WHERE (SELECT count() FROM {{db}}.workload_daily) = 0
GROUP BY day, cluster, cloud, region, namespace, workload_kind, workload, class, nat_gateway, priced_as
SETTINGS max_rows_to_group_by = 0, group_by_overflow_mode = 'throw';

CREATE MATERIALIZED VIEW IF NOT EXISTS {{db}}.workload_daily_mv TO {{db}}.workload_daily AS
SELECT
    toDate(time) AS day,
    cluster,
    cloud,
    local_region AS region,
    local_namespace AS namespace,
    local_workload_kind AS workload_kind,
    local_workload AS workload,
    class,
    nat_gateway,
    priced_as,
    sum(egress_bytes) AS egress_bytes,
    sum(ingress_bytes) AS ingress_bytes,
    sum(egress_packets) AS egress_packets,
    sum(ingress_packets) AS ingress_packets,
    count() AS flows
FROM {{db}}.rollup_input
GROUP BY day, cluster, cloud, region, namespace, workload_kind, workload, class, nat_gateway, priced_as;

-- workload_cost_daily reads this rollup from 0054 on (with the one price lookup, unit_prices).
