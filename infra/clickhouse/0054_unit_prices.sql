-- One price lookup for every cost view (0041's rules, written once): `unit_prices` resolves, per
-- cloud, region and price class a rollup holds, the USD per GiB each way (a region's own row, else
-- the cloud's '*') and the NAT gateway processing price each way. Its keys come from the daily
-- rollup, which holds every (cloud, region, priced class) any rollup was fed (0050). The cost views
-- join it once; they still price at query time, so a price change re-prices history.
CREATE OR REPLACE VIEW {{db}}.unit_prices AS
SELECT
    k.cloud AS cloud, k.region AS region, k.price_class AS price_class,
    if(ps.has_egress, ps.egress_usd_per_gib, pw.egress_usd_per_gib) AS egress_usd_per_gib,
    if(ps.has_ingress, ps.ingress_usd_per_gib, pw.ingress_usd_per_gib) AS ingress_usd_per_gib,
    if(ns.has_egress, ns.egress_usd_per_gib, nw.egress_usd_per_gib) AS nat_egress_usd_per_gib,
    if(ns.has_ingress, ns.ingress_usd_per_gib, nw.ingress_usd_per_gib) AS nat_ingress_usd_per_gib
FROM (SELECT DISTINCT toString(cloud) AS cloud, toString(region) AS region, toString(if(priced_as = '', class, priced_as)) AS price_class FROM {{db}}.workload_daily) AS k
LEFT JOIN {{db}}.prices_current AS ps ON ps.cloud = k.cloud AND ps.region = k.region AND ps.class = k.price_class
LEFT JOIN (SELECT * FROM {{db}}.prices_current WHERE region = '*') AS pw ON pw.cloud = k.cloud AND pw.class = k.price_class
LEFT JOIN (SELECT * FROM {{db}}.prices_current WHERE class = 'nat_gateway') AS ns ON ns.cloud = k.cloud AND ns.region = k.region
LEFT JOIN (SELECT * FROM {{db}}.prices_current WHERE class = 'nat_gateway' AND region = '*') AS nw ON nw.cloud = k.cloud
SETTINGS join_use_nulls = 0;

CREATE OR REPLACE VIEW {{db}}.workload_cost_hourly AS
SELECT
    w.hour AS hour, w.cluster AS cluster, w.namespace AS namespace, w.workload_kind AS workload_kind, w.workload AS workload,
    w.class AS class, w.cloud AS cloud, w.region AS region,
    sum(w.egress_bytes) AS egress_bytes, sum(w.ingress_bytes) AS ingress_bytes, sum(w.flows) AS flows,
    sum(w.egress_bytes / 1073741824 * p.egress_usd_per_gib) AS egress_usd,
    sum(w.ingress_bytes / 1073741824 * p.ingress_usd_per_gib) AS ingress_usd,
    sum(if(w.nat_gateway, w.egress_bytes / 1073741824 * p.nat_egress_usd_per_gib + w.ingress_bytes / 1073741824 * p.nat_ingress_usd_per_gib, 0)) AS nat_usd,
    egress_usd + ingress_usd + nat_usd AS total_usd
FROM (SELECT *, if(priced_as = '', class, priced_as) AS price_class FROM {{db}}.workload_hourly) AS w
LEFT JOIN {{db}}.unit_prices AS p ON p.cloud = w.cloud AND p.region = w.region AND p.price_class = w.price_class
GROUP BY hour, cluster, namespace, workload_kind, workload, class, cloud, region
SETTINGS max_rows_to_group_by = 0, group_by_overflow_mode = 'throw';

CREATE OR REPLACE VIEW {{db}}.workload_cost_daily AS
SELECT
    w.day AS day, w.cluster AS cluster, w.namespace AS namespace, w.workload_kind AS workload_kind, w.workload AS workload,
    w.class AS class, w.cloud AS cloud, w.region AS region,
    sum(w.egress_bytes) AS egress_bytes, sum(w.ingress_bytes) AS ingress_bytes, sum(w.flows) AS flows,
    sum(w.egress_bytes / 1073741824 * p.egress_usd_per_gib) AS egress_usd,
    sum(w.ingress_bytes / 1073741824 * p.ingress_usd_per_gib) AS ingress_usd,
    sum(if(w.nat_gateway, w.egress_bytes / 1073741824 * p.nat_egress_usd_per_gib + w.ingress_bytes / 1073741824 * p.nat_ingress_usd_per_gib, 0)) AS nat_usd,
    egress_usd + ingress_usd + nat_usd AS total_usd
FROM (SELECT *, if(priced_as = '', class, priced_as) AS price_class FROM {{db}}.workload_daily) AS w
LEFT JOIN {{db}}.unit_prices AS p ON p.cloud = w.cloud AND p.region = w.region AND p.price_class = w.price_class
GROUP BY day, cluster, namespace, workload_kind, workload, class, cloud, region
SETTINGS max_rows_to_group_by = 0, group_by_overflow_mode = 'throw';

CREATE OR REPLACE VIEW {{db}}.label_cost_hourly AS
SELECT
    hour, label_key, label_value, cluster, namespace, workload_kind, workload, class,
    sum(w.egress_bytes) AS egress_bytes, sum(w.ingress_bytes) AS ingress_bytes,
    sum(w.egress_bytes / 1073741824 * p.egress_usd_per_gib) AS egress_usd,
    sum(w.ingress_bytes / 1073741824 * p.ingress_usd_per_gib) AS ingress_usd,
    sum(if(w.nat_gateway, w.egress_bytes / 1073741824 * p.nat_egress_usd_per_gib + w.ingress_bytes / 1073741824 * p.nat_ingress_usd_per_gib, 0)) AS nat_usd,
    egress_usd + ingress_usd + nat_usd AS total_usd
FROM (SELECT *, if(priced_as = '', class, priced_as) AS price_class FROM {{db}}.label_hourly) AS w
LEFT JOIN {{db}}.unit_prices AS p ON p.cloud = w.cloud AND p.region = w.region AND p.price_class = w.price_class
GROUP BY hour, label_key, label_value, cluster, namespace, workload_kind, workload, class
SETTINGS max_rows_to_group_by = 0, group_by_overflow_mode = 'throw';
