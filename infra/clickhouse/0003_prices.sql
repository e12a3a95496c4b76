-- Prices, USD per GiB, editable by users: insert a row with a later updated_at to change
-- one (ReplacingMergeTree keeps the newest). region '*' applies to every region of the
-- cloud; a row for a specific region beats it. class is a traffic class (lowercase, as in
-- flows.class) or 'nat_gateway': the NAT gateway processing price, added on top of the
-- class price for bytes with nat_gateway = 1.
CREATE TABLE IF NOT EXISTS {{db}}.prices
(
    cloud LowCardinality(String),
    region LowCardinality(String),
    class LowCardinality(String),
    direction Enum8('egress' = 1, 'ingress' = 2),
    usd_per_gib Float64,
    updated_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(updated_at)
ORDER BY (cloud, region, class, direction);

-- Seed (public list prices, DESIGN.md section 5). Only keys that have no row yet, dated in
-- the past, so a replay never overrides a user's edit.
INSERT INTO {{db}}.prices (cloud, region, class, direction, usd_per_gib, updated_at)
SELECT s.1, s.2, s.3, s.4, s.5, toDateTime64('2000-01-01 00:00:00', 3, 'UTC')
FROM (
    SELECT arrayJoin([
        ('aws', '*', 'cross_zone', 'egress', 0.01),
        ('aws', '*', 'cross_zone', 'ingress', 0.01),
        ('aws', '*', 'cross_region', 'egress', 0.02),
        ('aws', '*', 'internet', 'egress', 0.09),
        ('aws', '*', 'nat_gateway', 'egress', 0.045),
        ('aws', '*', 'nat_gateway', 'ingress', 0.045),
        ('gcp', '*', 'cross_zone', 'egress', 0.01),
        ('gcp', '*', 'internet', 'egress', 0.12),
        ('azure', '*', 'internet', 'egress', 0.087)
    ]) AS s
)
WHERE (s.1, s.2, s.3, s.4) NOT IN (SELECT cloud, region, class, toString(direction) FROM {{db}}.prices);

-- The price in force per key, one row per (cloud, region, class) with both directions.
-- has_* tells a configured 0 from a missing price (missing falls back to region '*').
CREATE OR REPLACE VIEW {{db}}.prices_current AS
SELECT
    cloud,
    region,
    class,
    maxIf(usd, direction = 'egress') AS egress_usd_per_gib,
    maxIf(usd, direction = 'ingress') AS ingress_usd_per_gib,
    max(direction = 'egress') AS has_egress,
    max(direction = 'ingress') AS has_ingress
FROM (
    SELECT cloud, region, class, direction, argMax(usd_per_gib, updated_at) AS usd
    FROM {{db}}.prices
    GROUP BY cloud, region, class, direction
)
GROUP BY cloud, region, class;

-- Cost per workload and hour, priced at query time: a price change re-prices history.
-- USD = bytes / 2^30 * price; nat_usd is the NAT gateway processing price on both
-- directions of bytes that passed one.
CREATE OR REPLACE VIEW {{db}}.workload_cost_hourly AS
SELECT
    hour, cluster, namespace, workload_kind, workload, class,
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
        w.class AS class, w.egress_bytes AS eb, w.ingress_bytes AS ib, w.flows AS n,
        w.egress_bytes / 1073741824 * if(ps.has_egress, ps.egress_usd_per_gib, pw.egress_usd_per_gib) AS e_usd,
        w.ingress_bytes / 1073741824 * if(ps.has_ingress, ps.ingress_usd_per_gib, pw.ingress_usd_per_gib) AS i_usd,
        if(w.nat_gateway,
            w.egress_bytes / 1073741824 * if(ns.has_egress, ns.egress_usd_per_gib, nw.egress_usd_per_gib)
            + w.ingress_bytes / 1073741824 * if(ns.has_ingress, ns.ingress_usd_per_gib, nw.ingress_usd_per_gib),
            0) AS n_usd
    FROM {{db}}.workload_hourly AS w
    LEFT JOIN {{db}}.prices_current AS ps ON ps.cloud = w.cloud AND ps.region = w.region AND ps.class = w.class
    LEFT JOIN (SELECT * FROM {{db}}.prices_current WHERE region = '*') AS pw ON pw.cloud = w.cloud AND pw.class = w.class
    LEFT JOIN (SELECT * FROM {{db}}.prices_current WHERE class = 'nat_gateway') AS ns ON ns.cloud = w.cloud AND ns.region = w.region
    LEFT JOIN (SELECT * FROM {{db}}.prices_current WHERE class = 'nat_gateway' AND region = '*') AS nw ON nw.cloud = w.cloud
)
GROUP BY hour, cluster, namespace, workload_kind, workload, class;
