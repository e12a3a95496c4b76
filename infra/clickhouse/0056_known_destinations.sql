-- Known destinations (issue 8): the anomaly views judged 30 days with window functions over
-- every hourly row of the window and its baseline. Two small rollups, kept by materialized views
-- on rollup_input (the same feed, with the same deduplication tokens, as the other rollups: each
-- chunk exactly once): destination_keys_daily tells the views which workloads can hold a new or
-- unexpected destination at all, and only their hourly rows are judged, by 0022's rules, so the
-- rows are the same; workload_egress_hourly gives VOLUME_SPIKE one row per workload and hour.
--
-- destination_keys_daily: per UTC day and workload, one row per key:
--   key_kind 'traffic'  dest ''        every flow of the workload (any class, either role): its first and last hour
--   key_kind 'country'  dest country   egress the workload opened to an external destination (destinations_hourly's
--   key_kind 'asn'      dest ASN       filter); unknown '' / 0 are not kept (never judged)
-- egress bytes, flows (never 0, so a merge never drops a row), first and last hour.
-- workload_egress_hourly: per hour and workload, the egress of destinations_hourly (VOLUME_SPIKE).
-- Both kept 2 years like the hourly rollups. Every statement is safe to replay.
CREATE TABLE IF NOT EXISTS {{db}}.destination_keys_daily
(
    day Date,
    cluster LowCardinality(String),
    namespace LowCardinality(String),
    workload_kind LowCardinality(String),
    workload LowCardinality(String),
    key_kind LowCardinality(String),
    dest String,
    egress_bytes UInt64,
    flows UInt64,
    first_hour SimpleAggregateFunction(min, DateTime('UTC')),
    last_hour SimpleAggregateFunction(max, DateTime('UTC'))
)
ENGINE = SummingMergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (key_kind, cluster, namespace, workload_kind, workload, dest, day)
TTL day + INTERVAL 730 DAY
SETTINGS non_replicated_deduplication_window = 1000;

CREATE TABLE IF NOT EXISTS {{db}}.workload_egress_hourly
(
    hour DateTime('UTC'),
    cluster LowCardinality(String),
    namespace LowCardinality(String),
    workload_kind LowCardinality(String),
    workload LowCardinality(String),
    egress_bytes UInt64,
    flows UInt64
)
ENGINE = SummingMergeTree
PARTITION BY toYYYYMM(hour)
ORDER BY (cluster, namespace, workload_kind, workload, hour)
TTL hour + INTERVAL 730 DAY
SETTINGS non_replicated_deduplication_window = 1000;

-- What the hourly rollups already hold, once: only while the new rollups are still empty (the sink
-- feeds rollup_input only after the migrations ran, so no row passes the views before this copy).
INSERT INTO {{db}}.destination_keys_daily (day, cluster, namespace, workload_kind, workload, key_kind, dest, egress_bytes, flows, first_hour, last_hour)
SELECT toDate(hour) AS day, cluster, namespace, workload_kind, workload, 'traffic' AS key_kind, '' AS dest,
       sum(egress_bytes), sum(flows), min(hour), max(hour)
FROM {{db}}.workload_hourly
WHERE (SELECT count() FROM {{db}}.destination_keys_daily) = 0
GROUP BY day, cluster, namespace, workload_kind, workload
UNION ALL
SELECT toDate(hour) AS day, cluster, namespace, workload_kind, workload, k.1 AS key_kind, k.2 AS dest,
       sum(egress_bytes), sum(flows), min(hour), max(hour)
FROM {{db}}.destinations_hourly
ARRAY JOIN arrayFilter(x -> x.2 NOT IN ('', '0'), [('country', toString(remote_country)), ('asn', toString(remote_asn))]) AS k
WHERE (SELECT count() FROM {{db}}.destination_keys_daily) = 0
GROUP BY day, cluster, namespace, workload_kind, workload, key_kind, dest
SETTINGS max_rows_to_group_by = 0, group_by_overflow_mode = 'throw';

INSERT INTO {{db}}.workload_egress_hourly (hour, cluster, namespace, workload_kind, workload, egress_bytes, flows)
SELECT hour, cluster, namespace, workload_kind, workload, sum(egress_bytes), sum(flows)
FROM {{db}}.destinations_hourly
WHERE (SELECT count() FROM {{db}}.workload_egress_hourly) = 0
GROUP BY hour, cluster, namespace, workload_kind, workload
SETTINGS max_rows_to_group_by = 0, group_by_overflow_mode = 'throw';

CREATE MATERIALIZED VIEW IF NOT EXISTS {{db}}.destination_keys_daily_mv TO {{db}}.destination_keys_daily AS
SELECT
    toDate(time) AS day,
    cluster,
    local_namespace AS namespace,
    local_workload_kind AS workload_kind,
    local_workload AS workload,
    k.1 AS key_kind,
    k.2 AS dest,
    sum(egress_bytes) AS egress_bytes,
    count() AS flows,
    min(toStartOfHour(time)) AS first_hour,
    max(toStartOfHour(time)) AS last_hour
FROM {{db}}.rollup_input
ARRAY JOIN arrayConcat(
    [('traffic', '')],
    if(role = 'INITIATOR' AND class IN ('internet', 'private', 'direct', 'cloud_service'),
       arrayFilter(x -> x.2 NOT IN ('', '0'), [('country', remote_country), ('asn', toString(remote_asn))]),
       [])) AS k
GROUP BY day, cluster, namespace, workload_kind, workload, key_kind, dest;

CREATE MATERIALIZED VIEW IF NOT EXISTS {{db}}.workload_egress_hourly_mv TO {{db}}.workload_egress_hourly AS
SELECT
    toStartOfHour(time) AS hour,
    cluster,
    local_namespace AS namespace,
    local_workload_kind AS workload_kind,
    local_workload AS workload,
    sum(egress_bytes) AS egress_bytes,
    count() AS flows
FROM {{db}}.rollup_input
WHERE role = 'INITIATOR' AND class IN ('internet', 'private', 'direct', 'cloud_service')
GROUP BY hour, cluster, namespace, workload_kind, workload;

-- The workloads that can hold a NEW_COUNTRY, NEW_ASN or UNEXPECTED_COUNTRY anomaly in [from, to),
-- from destination_keys_daily alone (a superset: every workload 0022's rules flag is in it). Per
-- day D of [from, to), from its keys:
--   NEW_COUNTRY / NEW_ASN: at least the rule's minimum that day, less than baseline_min_bytes in
--     the baseline_days - 1 whole days before D (an hour of D is judged against [hour - baseline,
--     hour), which holds those days: if they hold the minimum, the key is known all day), and the
--     workload's first traffic since the baseline's start at least learning_hours before D's last hour;
--   UNEXPECTED_COUNTRY: unexpected_min_bytes that day to a country that a most specific
--     expected_countries row of the workload leaves out;
-- destination_keys_hourly (below) reads hourly rows of these workloads only, so 0022's NEW_* and
-- UNEXPECTED_COUNTRY flag the same rows. MINING_PORT (0020) and VOLUME_SPIKE (below) read every
-- workload: their reads are small (a port filter; one row per workload and hour).
CREATE OR REPLACE VIEW {{db}}.anomaly_workloads AS
WITH
    (SELECT days FROM {{db}}.anomaly_baseline_days) AS bdays,
    (SELECT (new_country_min_bytes, new_asn_min_bytes, baseline_min_bytes, learning_hours, unexpected_min_bytes) FROM {{db}}.anomaly_config) AS cfg,
    (SELECT groupArray((cluster, namespace, workload_kind, workload, countries))
     FROM (SELECT cluster, namespace, workload_kind, workload, argMax(countries, updated_at) AS countries
           FROM {{db}}.expected_countries GROUP BY cluster, namespace, workload_kind, workload)) AS expected
SELECT DISTINCT cluster, namespace, workload_kind, workload
FROM (
    SELECT cluster, namespace, workload_kind, workload, key_kind, dest, x.1 AS day, x.2 AS bytes, x.3 AS prior, first_hour,
           arrayFilter(e -> (e.1 = '*' OR e.1 = cluster) AND (e.2 = '*' OR e.2 = namespace) AND (e.3 = '*' OR e.3 = workload_kind)
                            AND (e.4 = '*' OR e.4 = workload), expected) AS scopes,
           arrayMax(arrayMap(e -> (e.2 != '*') * 2 + (e.4 != '*'), scopes)) AS top
    FROM (
        SELECT *, min(f0) OVER (PARTITION BY cluster, namespace, workload_kind, workload) AS first_hour
        FROM (
            SELECT cluster, namespace, workload_kind, workload, key_kind, dest, groupArray((day, egress_bytes)) AS ds,
                   if(key_kind = 'traffic', min(first_hour), toDateTime(4294967295, 'UTC')) AS f0
            FROM {{db}}.destination_keys_daily
            WHERE key_kind IN ('traffic', 'country', 'asn')
              AND day >= toDate(toDateTime({from:UInt32} - least({from:UInt32}, 86400 * bdays), 'UTC'))
              AND day <= toDate(toDateTime({to:UInt32}, 'UTC'))
            GROUP BY cluster, namespace, workload_kind, workload, key_kind, dest
        )
    )
    ARRAY JOIN arrayMap(
        d -> (d, arraySum(arrayMap(p -> if(p.1 = d, p.2, 0), ds)), arraySum(arrayMap(p -> if(p.1 < d AND p.1 > d - bdays, p.2, 0), ds))),
        arrayFilter(d -> d >= toDate(toDateTime({from:UInt32}, 'UTC')), arrayDistinct(arrayMap(p -> p.1, ds)))) AS x
    WHERE key_kind IN ('country', 'asn')
)
WHERE (key_kind IN ('country', 'asn')
       AND bytes >= if(key_kind = 'country', cfg.1, cfg.2)
       AND prior < cfg.3
       AND first_hour <= toDateTime(day, 'UTC') + INTERVAL 23 HOUR - toIntervalHour(cfg.4))
   OR (key_kind = 'country' AND bytes >= cfg.5
       AND arrayExists(e -> (e.2 != '*') * 2 + (e.4 != '*') = top AND notEmpty(e.5) AND NOT has(e.5, dest), scopes))
SETTINGS max_rows_to_group_by = 0, group_by_overflow_mode = 'throw';

-- 0020's destination_keys_hourly, for the workloads of anomaly_workloads only (0022's NEW_COUNTRY,
-- NEW_ASN and UNEXPECTED_COUNTRY read it: the hourly rows of destinations_hourly they judge).
CREATE OR REPLACE VIEW {{db}}.destination_keys_hourly AS
SELECT
    hour, cluster, namespace, workload_kind, workload, k.1 AS rule, k.2 AS dest,
    sum(egress_bytes) AS bytes,
    argMax(toString(remote_country), egress_bytes) AS country,
    argMax(remote_asn, egress_bytes) AS asn,
    argMax(remote_port, egress_bytes) AS port,
    toString(min(sample_ip)) AS ip
FROM {{db}}.destinations_hourly
ARRAY JOIN [('NEW_COUNTRY', toString(remote_country)), ('NEW_ASN', toString(remote_asn))] AS k
WHERE hour >= toDateTime({from:UInt32} - least({from:UInt32}, {back:UInt32}), 'UTC')
  AND hour < toDateTime({to:UInt32}, 'UTC')
  AND has((SELECT groupArray((cluster, namespace, workload_kind, workload)) FROM {{db}}.anomaly_workloads(from = {from:UInt32}, to = {to:UInt32})),
          (cluster, namespace, workload_kind, workload))
  AND k.2 NOT IN ('', '0')
GROUP BY hour, cluster, namespace, workload_kind, workload, rule, dest
SETTINGS max_rows_to_group_by = 0, group_by_overflow_mode = 'throw';

-- 0022's VOLUME_SPIKE over workload_egress_hourly (destinations_hourly's egress per workload and
-- hour: one row where destinations_hourly has one per destination).
CREATE OR REPLACE VIEW {{db}}.anomaly_volume_spike_in AS
SELECT
    s.hour AS window_start, s.cluster AS cluster, s.namespace AS namespace, s.workload_kind AS workload_kind, s.workload AS workload,
    'VOLUME_SPIKE' AS rule, '' AS country, toUInt32(0) AS asn, '' AS ip, toUInt16(0) AS port,
    s.bytes AS bytes, toUInt64(s.baseline) AS baseline_bytes,
    s.bytes / greatest(s.baseline, 1) AS score,
    if(s.bytes >= 10 * cfg.spike_ratio * s.baseline, 'HIGH', 'MEDIUM') AS severity,
    '' AS dest_key
FROM (
    SELECT
        *,
        max(bytes) OVER (PARTITION BY sipHash128(cluster, namespace, workload_kind, workload) ORDER BY toUInt32(hour)
                         RANGE BETWEEN 604800 PRECEDING AND 1 PRECEDING) AS baseline
    FROM (
        SELECT hour, cluster, namespace, workload_kind, workload, sum(egress_bytes) AS bytes
        FROM {{db}}.workload_egress_hourly
        WHERE hour >= toDateTime({from:UInt32} - least({from:UInt32}, 604800), 'UTC') AND hour < toDateTime({to:UInt32}, 'UTC')
        GROUP BY hour, cluster, namespace, workload_kind, workload
    )
) AS s
INNER JOIN {{db}}.workload_first_in(from = {from:UInt32}, to = {to:UInt32}, back = 1209600) AS f
    ON f.cluster = s.cluster AND f.namespace = s.namespace AND f.workload_kind = s.workload_kind AND f.workload = s.workload
CROSS JOIN {{db}}.anomaly_config AS cfg
WHERE s.hour >= toDateTime({from:UInt32}, 'UTC')
  AND s.bytes >= cfg.spike_min_bytes
  AND s.bytes >= cfg.spike_ratio * s.baseline
  AND f.first_hour <= s.hour - toIntervalDay(7)
SETTINGS max_rows_to_group_by = 0, group_by_overflow_mode = 'throw';
