-- One definition of a cost (issue 8): 0054 wrote "bytes x unit price" (egress, ingress, NAT
-- processing on bytes through a gateway) three times, in workload_cost_hourly, workload_cost_daily
-- and label_cost_hourly. rollup_costs prices a row of any priced rollup once: grain 'hour'
-- (workload_hourly), 'day' (workload_daily) or 'label' (label_hourly); the cost views pick their
-- grain (the filter reaches only that rollup) and sum. Same prices, same joins, same results.
CREATE OR REPLACE VIEW {{db}}.rollup_costs AS
SELECT
    r.grain AS grain, r.t AS t, r.label_key AS label_key, r.label_value AS label_value,
    r.cluster AS cluster, r.namespace AS namespace, r.workload_kind AS workload_kind, r.workload AS workload,
    r.class AS class, r.cloud AS cloud, r.region AS region,
    r.egress_bytes AS egress_bytes, r.ingress_bytes AS ingress_bytes, r.flows AS flows,
    r.egress_bytes / 1073741824 * p.egress_usd_per_gib AS egress_usd,
    r.ingress_bytes / 1073741824 * p.ingress_usd_per_gib AS ingress_usd,
    if(r.nat_gateway, r.egress_bytes / 1073741824 * p.nat_egress_usd_per_gib + r.ingress_bytes / 1073741824 * p.nat_ingress_usd_per_gib, 0) AS nat_usd
FROM (
    SELECT 'hour' AS grain, hour AS t, '' AS label_key, '' AS label_value, cluster, namespace, workload_kind, workload, class, cloud, region,
           nat_gateway, if(priced_as = '', class, priced_as) AS price_class, egress_bytes, ingress_bytes, flows
    FROM {{db}}.workload_hourly
    UNION ALL
    SELECT 'day', toDateTime(day, 'UTC'), '', '', cluster, namespace, workload_kind, workload, class, cloud, region,
           nat_gateway, if(priced_as = '', class, priced_as), egress_bytes, ingress_bytes, flows
    FROM {{db}}.workload_daily
    UNION ALL
    SELECT 'label', hour, label_key, label_value, cluster, namespace, workload_kind, workload, class, cloud, region,
           nat_gateway, if(priced_as = '', class, priced_as), egress_bytes, ingress_bytes, flows
    FROM {{db}}.label_hourly
) AS r
LEFT JOIN {{db}}.unit_prices AS p ON p.cloud = r.cloud AND p.region = r.region AND p.price_class = r.price_class;

-- Cost per workload, class, cloud and region at a grain ('hour' or 'day'), summed once for both views.
CREATE OR REPLACE VIEW {{db}}.workload_cost_at AS
SELECT
    t, cluster, namespace, workload_kind, workload, class, cloud, region,
    sum(egress_bytes) AS egress_bytes, sum(ingress_bytes) AS ingress_bytes, sum(flows) AS flows,
    sum(egress_usd) AS egress_usd, sum(ingress_usd) AS ingress_usd, sum(nat_usd) AS nat_usd, egress_usd + ingress_usd + nat_usd AS total_usd
FROM {{db}}.rollup_costs
WHERE grain = {grain:String}
GROUP BY t, cluster, namespace, workload_kind, workload, class, cloud, region
SETTINGS max_rows_to_group_by = 0, group_by_overflow_mode = 'throw';

CREATE OR REPLACE VIEW {{db}}.workload_cost_hourly AS
SELECT t AS hour, * EXCEPT (t) FROM {{db}}.workload_cost_at(grain = 'hour');

CREATE OR REPLACE VIEW {{db}}.workload_cost_daily AS
SELECT toDate(t) AS day, * EXCEPT (t) FROM {{db}}.workload_cost_at(grain = 'day');

CREATE OR REPLACE VIEW {{db}}.label_cost_hourly AS
SELECT
    t AS hour, label_key, label_value, cluster, namespace, workload_kind, workload, class,
    sum(egress_bytes) AS egress_bytes, sum(ingress_bytes) AS ingress_bytes,
    sum(egress_usd) AS egress_usd, sum(ingress_usd) AS ingress_usd, sum(nat_usd) AS nat_usd, egress_usd + ingress_usd + nat_usd AS total_usd
FROM {{db}}.rollup_costs
WHERE grain = 'label'
GROUP BY hour, label_key, label_value, cluster, namespace, workload_kind, workload, class
SETTINGS max_rows_to_group_by = 0, group_by_overflow_mode = 'throw';
