-- Classes that name a place are priced by where that place is (DESIGN.md section 5): the hourly
-- rollup keeps `priced_as` (flows-table.ts: direct -> same_zone / cross_zone / cross_region by
-- its range's zone and region; cloud_service in another region -> cross_region; else the class),
-- and the cost view looks prices up by it. Rows stored before this migration have priced_as ''
-- and are priced by their class, as before. Every statement is safe to replay.
ALTER TABLE {{db}}.workload_hourly ADD COLUMN IF NOT EXISTS priced_as LowCardinality(String) AFTER nat_gateway,
    MODIFY ORDER BY (cluster, namespace, workload_kind, workload, hour, class, cloud, region, nat_gateway, priced_as);

-- The view that fills workload_hourly, with priced_as (rollup_input has it since 0040). The
-- sink feeds rollup_input only after migrations ran, so nothing passes while the view is replaced.
DROP VIEW IF EXISTS {{db}}.workload_hourly_mv;
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
    priced_as,
    sum(egress_bytes) AS egress_bytes,
    sum(ingress_bytes) AS ingress_bytes,
    sum(egress_packets) AS egress_packets,
    sum(ingress_packets) AS ingress_packets,
    count() AS flows
FROM {{db}}.rollup_input
GROUP BY hour, cluster, cloud, region, namespace, workload_kind, workload, class, nat_gateway, priced_as;

-- 0021's cost view, with the price looked up by priced_as (class when empty).
CREATE OR REPLACE VIEW {{db}}.workload_cost_hourly AS
SELECT
    hour, cluster, namespace, workload_kind, workload, class, cloud, region,
    sum(eb) AS egress_bytes,
    sum(ib) AS ingress_bytes,
    sum(n) AS flows,
    sum(e_usd) AS egress_usd,
    sum(i_usd) AS ingress_usd,
    sum(n_usd) AS nat_usd,
    egress_usd + ingress_usd + nat_usd AS total_usd
FROM (
    SELECT
        w.hour AS hour, w.cluster AS cluster, w.namespace AS namespace, w.workload_kind AS workload_kind, w.workload AS workload,
        w.class AS class, w.cloud AS cloud, w.region AS region, w.egress_bytes AS eb, w.ingress_bytes AS ib, w.flows AS n,
        w.egress_bytes / 1073741824 * if(ps.has_egress, ps.egress_usd_per_gib, pw.egress_usd_per_gib) AS e_usd,
        w.ingress_bytes / 1073741824 * if(ps.has_ingress, ps.ingress_usd_per_gib, pw.ingress_usd_per_gib) AS i_usd,
        if(w.nat_gateway,
            w.egress_bytes / 1073741824 * if(ns.has_egress, ns.egress_usd_per_gib, nw.egress_usd_per_gib)
            + w.ingress_bytes / 1073741824 * if(ns.has_ingress, ns.ingress_usd_per_gib, nw.ingress_usd_per_gib),
            0) AS n_usd
    FROM (SELECT *, if(priced_as = '', class, priced_as) AS price_class FROM {{db}}.workload_hourly) AS w
    LEFT JOIN {{db}}.prices_current AS ps ON ps.cloud = w.cloud AND ps.region = w.region AND ps.class = w.price_class
    LEFT JOIN (SELECT * FROM {{db}}.prices_current WHERE region = '*') AS pw ON pw.cloud = w.cloud AND pw.class = w.price_class
    LEFT JOIN (SELECT * FROM {{db}}.prices_current WHERE class = 'nat_gateway') AS ns ON ns.cloud = w.cloud AND ns.region = w.region
    LEFT JOIN (SELECT * FROM {{db}}.prices_current WHERE class = 'nat_gateway' AND region = '*') AS nw ON nw.cloud = w.cloud
)
GROUP BY hour, cluster, namespace, workload_kind, workload, class, cloud, region
SETTINGS max_rows_to_group_by = 0, group_by_overflow_mode = 'throw';
