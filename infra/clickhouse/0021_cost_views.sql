-- Cost views over the hourly rollups (issue 8): per day, a bill summary to hold against the
-- provider's invoice, top destinations per workload. Long ranges read these rollups, never raw
-- flows. The hourly rollups keep 2 years.
ALTER TABLE {{db}}.workload_hourly MODIFY TTL hour + INTERVAL 730 DAY;
ALTER TABLE {{db}}.destinations_hourly MODIFY TTL hour + INTERVAL 730 DAY;

-- 0003's cost view, with the cloud and region each byte was priced for (same prices, same joins).
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
    FROM {{db}}.workload_hourly AS w
    LEFT JOIN {{db}}.prices_current AS ps ON ps.cloud = w.cloud AND ps.region = w.region AND ps.class = w.class
    LEFT JOIN (SELECT * FROM {{db}}.prices_current WHERE region = '*') AS pw ON pw.cloud = w.cloud AND pw.class = w.class
    LEFT JOIN (SELECT * FROM {{db}}.prices_current WHERE class = 'nat_gateway') AS ns ON ns.cloud = w.cloud AND ns.region = w.region
    LEFT JOIN (SELECT * FROM {{db}}.prices_current WHERE class = 'nat_gateway' AND region = '*') AS nw ON nw.cloud = w.cloud
)
GROUP BY hour, cluster, namespace, workload_kind, workload, class, cloud, region
SETTINGS max_rows_to_group_by = 0, group_by_overflow_mode = 'throw';

-- Per day (UTC).
CREATE OR REPLACE VIEW {{db}}.workload_cost_daily AS
SELECT
    toDate(hour) AS day, cluster, namespace, workload_kind, workload, class, cloud, region,
    sum(egress_bytes) AS egress_bytes, sum(ingress_bytes) AS ingress_bytes, sum(flows) AS flows,
    sum(egress_usd) AS egress_usd, sum(ingress_usd) AS ingress_usd, sum(nat_usd) AS nat_usd, sum(total_usd) AS total_usd
FROM {{db}}.workload_cost_hourly
GROUP BY day, cluster, namespace, workload_kind, workload, class, cloud, region
SETTINGS max_rows_to_group_by = 0, group_by_overflow_mode = 'throw';

-- The bill: per month, cloud, region and line (a traffic class, or NAT gateway processing) and
-- direction, the GiB and USD, as a provider's invoice lists data transfer.
CREATE OR REPLACE VIEW {{db}}.bill_summary AS
SELECT month, cluster, cloud, region, line, direction, sum(line_gib) AS gib, sum(line_usd) AS usd
FROM (
    SELECT toStartOfMonth(hour) AS month, cluster, cloud, region, l.1 AS line, l.2 AS direction, l.3 AS line_gib, l.4 AS line_usd
    FROM {{db}}.workload_cost_hourly
    ARRAY JOIN [
        (toString(class), 'egress', egress_bytes / 1073741824, egress_usd),
        (toString(class), 'ingress', ingress_bytes / 1073741824, ingress_usd),
        ('nat_gateway', 'both', if(nat_usd > 0, (egress_bytes + ingress_bytes) / 1073741824, 0), nat_usd)
    ] AS l
)
WHERE line_gib > 0 OR line_usd > 0
GROUP BY month, cluster, cloud, region, line, direction
SETTINGS max_rows_to_group_by = 0, group_by_overflow_mode = 'throw';

-- External destinations a workload opened, per hour (for "top destinations"): class, country,
-- ASN and its organisation, port, a sample IP.
CREATE OR REPLACE VIEW {{db}}.destinations_top_hourly AS
SELECT
    hour, cluster, namespace, workload_kind, workload, class, toString(remote_country) AS country, remote_asn AS asn,
    max(as_org) AS as_org, remote_port AS port, toString(min(sample_ip)) AS ip,
    sum(egress_bytes) AS egress_bytes, sum(ingress_bytes) AS ingress_bytes, sum(flows) AS flows
FROM {{db}}.destinations_hourly
GROUP BY hour, cluster, namespace, workload_kind, workload, class, country, asn, port
SETTINGS max_rows_to_group_by = 0, group_by_overflow_mode = 'throw';
