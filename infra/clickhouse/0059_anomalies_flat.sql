-- The anomaly rules as one flat query (issue 8, anomaly_query_ms_30d). Since 0056 the rules read
-- few rows, but chDB spent the time planning and evaluating the view stack: anomalies_window was a
-- union of four rule views over further parameterized views, each with its own settings join and
-- its own copy of the candidate set (anomaly_workloads), planned once per reference. Here
-- anomalies_window reads the settings, the enabled ports, the expectations and the workloads to
-- judge once each (scalars of one WITH), then every rule from ONE read of destinations_hourly:
-- each hourly row is fanned out to the keys of the rules it can feed (NEW_COUNTRY by country,
-- NEW_ASN by ASN, UNEXPECTED_COUNTRY by country, VOLUME_SPIKE per workload, MINING_PORT by
-- country/ASN/port), one GROUP BY, the baselines as window functions over those rows only, one
-- join for the workloads' first traffic. The rules, parameters and rows are 0020/0022's (the rule
-- test compares them row for row with 0020/0022's views for many settings).
--
-- The workloads judged hourly (the rest cannot fire NEW_*, UNEXPECTED_COUNTRY or VOLUME_SPIKE):
--   from destination_keys_daily (0056), per day D of [from, to) and country or ASN key: at least the
--     rule's minimum that day, less than baseline_min_bytes on day D - 1 (with a baseline of 2 days
--     or more every hour of D is judged against a window that holds all of D - 1), and the
--     workload's first traffic since the baseline's start (its day's first hour, no later than the
--     hourly one) at least learning_hours before D's last hour; or, with expectations configured,
--     unexpected_min_bytes that day to a country that a matching non-empty expectation leaves out;
--   from workload_egress_hourly (0056): an hour of [from, to) with at least spike_min_bytes.
-- Each is a necessary condition of the rule's hourly test, so the judged set holds every workload
-- that fires. MINING_PORT reads only rows to an enabled port. Every statement is safe to replay.

-- The settings (0020's, one aggregation instead of two); baseline_window_days is 0022's
-- anomaly_baseline_days (baseline_days rounded down to 1, 3, 7, 14 or 30: a window frame cannot take
-- a setting, so the view computes these five frames and picks one).
CREATE OR REPLACE VIEW {{db}}.anomaly_config AS
SELECT
    toUInt32(argMaxIf(value, updated_at, name = 'baseline_days')) AS baseline_days,
    toUInt64(argMaxIf(value, updated_at, name = 'new_country_min_bytes')) AS new_country_min_bytes,
    toUInt32(argMaxIf(value, updated_at, name = 'learning_hours')) AS learning_hours,
    toUInt64(argMaxIf(value, updated_at, name = 'unexpected_min_bytes')) AS unexpected_min_bytes,
    argMaxIf(value, updated_at, name = 'spike_ratio') AS spike_ratio,
    toUInt64(argMaxIf(value, updated_at, name = 'spike_min_bytes')) AS spike_min_bytes,
    toUInt64(argMaxIf(value, updated_at, name = 'baseline_min_bytes')) AS baseline_min_bytes,
    toUInt64(argMaxIf(value, updated_at, name = 'new_asn_min_bytes')) AS new_asn_min_bytes,
    toUInt32(multiIf(baseline_days >= 30, 30, baseline_days >= 14, 14, baseline_days >= 7, 7, baseline_days >= 3, 3, 1)) AS baseline_window_days
FROM {{db}}.anomaly_settings;

-- Every anomaly whose hour is in [from, to) (Unix seconds): one row per rule, workload, destination
-- and hour, with 0020's columns and stable id. t_new / t_spike: the starts of the NEW_* and
-- VOLUME_SPIKE baselines (the first-traffic windows of 0020's workload_first_in).
CREATE OR REPLACE VIEW {{db}}.anomalies_window AS
WITH
    (SELECT tuple(*) FROM {{db}}.anomaly_config) AS cfg,
    (SELECT groupUniqArray(w) FROM (
        SELECT (cluster, namespace, workload_kind, workload) AS w
        FROM (
            SELECT cluster, namespace, workload_kind, workload, key_kind, dest, day + off AS d,
                   sumIf(egress_bytes, off = 0) AS cur, sumIf(egress_bytes, off = 1) AS prev, min(first_hour) AS f0
            FROM {{db}}.destination_keys_daily
            ARRAY JOIN [0, 1] AS off
            WHERE key_kind IN ('traffic', 'country', 'asn') AND day >= toDate(t_new) AND day <= toDate(t_to)
            GROUP BY cluster, namespace, workload_kind, workload, key_kind, dest, d
        )
        GROUP BY cluster, namespace, workload_kind, workload
        HAVING toUInt32(toDateTime(maxIf(d, key_kind != 'traffic' AND d >= toDate(t_from)
                                              AND cur >= if(key_kind = 'country', cfg.new_country_min_bytes, cfg.new_asn_min_bytes)
                                              AND (cfg.baseline_window_days = 1 OR prev < cfg.baseline_min_bytes)), 'UTC')) + 82800
               >= toUInt32(minIf(f0, key_kind = 'traffic')) + 3600 * cfg.learning_hours
            OR countIf(notEmpty(expected) AND key_kind = 'country' AND d >= toDate(t_from) AND cur >= cfg.unexpected_min_bytes
                       AND arrayExists(e -> (e.1 = '*' OR e.1 = cluster) AND (e.2 = '*' OR e.2 = namespace) AND (e.3 = '*' OR e.3 = workload_kind)
                                            AND (e.4 = '*' OR e.4 = workload) AND notEmpty(e.5) AND NOT has(e.5, dest), expected)) > 0
        UNION ALL
        SELECT (cluster, namespace, workload_kind, workload)
        FROM {{db}}.workload_egress_hourly
        WHERE hour >= t_from AND hour < t_to
        GROUP BY cluster, namespace, workload_kind, workload, hour
        HAVING sum(egress_bytes) >= cfg.spike_min_bytes)) AS judged,
    (SELECT groupArray(port) FROM (SELECT port, argMax(enabled, updated_at) AS on FROM {{db}}.suspicious_ports GROUP BY port) WHERE on) AS ports,
    (SELECT groupArray((cluster, namespace, workload_kind, workload, countries))
     FROM (SELECT cluster, namespace, workload_kind, workload, argMax(countries, updated_at) AS countries
           FROM {{db}}.expected_countries GROUP BY cluster, namespace, workload_kind, workload)) AS expected,
    toDateTime({from:UInt32}, 'UTC') AS t_from,
    toDateTime({to:UInt32}, 'UTC') AS t_to,
    toDateTime({from:UInt32} - least({from:UInt32}, 86400 * cfg.baseline_window_days), 'UTC') AS t_new,
    toDateTime({from:UInt32} - least({from:UInt32}, 1209600), 'UTC') AS t_spike
SELECT
    h.hour AS window_start,
    window_start + INTERVAL 1 HOUR AS window_end,
    toString(h.cluster) AS cluster, toString(h.namespace) AS namespace, toString(h.workload_kind) AS workload_kind, toString(h.workload) AS workload,
    h.rule AS rule,
    if(rule = 'VOLUME_SPIKE', '', h.country) AS country,
    toUInt32(if(rule = 'VOLUME_SPIKE', 0, h.asn)) AS asn,
    if(rule = 'VOLUME_SPIKE', '', h.ip) AS ip,
    toUInt16(if(rule = 'VOLUME_SPIKE', 0, h.port)) AS port,
    toUInt64(h.bytes) AS bytes,
    toUInt64(multiIf(rule IN ('NEW_COUNTRY', 'NEW_ASN'), h.baseline, rule = 'VOLUME_SPIKE', h.peak, 0)) AS baseline_bytes,
    toFloat64(multiIf(rule IN ('NEW_COUNTRY', 'NEW_ASN'), h.bytes / greatest(h.min_bytes, 1), rule = 'UNEXPECTED_COUNTRY', h.bytes / 1048576,
                      rule = 'MINING_PORT', h.flows, h.bytes / greatest(h.peak, 1))) AS score,
    multiIf(rule IN ('NEW_COUNTRY', 'NEW_ASN'), if(h.bytes >= 100 * h.min_bytes, 'HIGH', 'MEDIUM'), rule = 'UNEXPECTED_COUNTRY', 'HIGH',
            rule = 'MINING_PORT', if(h.internet, 'CRITICAL', 'HIGH'), if(h.bytes >= 10 * cfg.spike_ratio * h.peak, 'HIGH', 'MEDIUM')) AS severity,
    lower(hex(sipHash128(rule, cluster, namespace, workload_kind, workload, h.dest, toUnixTimestamp(window_start)))) AS id
FROM (
    SELECT *,
        if(rule = 'NEW_COUNTRY', cfg.new_country_min_bytes, cfg.new_asn_min_bytes) AS min_bytes,
        multiIf(cfg.baseline_window_days = 30, sum(bytes) OVER w30, cfg.baseline_window_days = 14, sum(bytes) OVER w14,
                cfg.baseline_window_days = 7, sum(bytes) OVER w7, cfg.baseline_window_days = 3, sum(bytes) OVER w3, sum(bytes) OVER w1) AS baseline,
        max(bytes) OVER w7 AS peak
    FROM (
        SELECT hour, cluster, namespace, workload_kind, workload, k.1 AS rule, k.2 AS dest,
            sum(egress_bytes) AS bytes,
            argMax(toString(remote_country), egress_bytes) AS country,
            argMax(remote_asn, egress_bytes) AS asn,
            argMax(remote_port, egress_bytes) AS port,
            toString(min(sample_ip)) AS ip,
            sum(flows) AS flows,
            max(class = 'internet') AS internet
        FROM {{db}}.destinations_hourly
        ARRAY JOIN arrayConcat(
            if(has(judged, (cluster, namespace, workload_kind, workload)),
               arrayConcat([('VOLUME_SPIKE', '')],
                            if(remote_country != '', [('NEW_COUNTRY', toString(remote_country))], []),
                            if(remote_asn != 0, [('NEW_ASN', toString(remote_asn))], []),
                            if(remote_country != '' AND hour >= t_from AND notEmpty(expected), [('UNEXPECTED_COUNTRY', toString(remote_country))], [])),
               []),
            if(hour >= t_from AND class IN ('internet', 'private') AND has(ports, remote_port),
               [('MINING_PORT', concat(toString(remote_country), '/', toString(remote_asn), '/', toString(remote_port)))], [])) AS k
        WHERE hour >= least(t_new, t_spike) AND hour < toDateTime({to:UInt32}, 'UTC')
          AND (has(judged, (cluster, namespace, workload_kind, workload)) OR (hour >= t_from AND has(ports, remote_port)))
        GROUP BY hour, cluster, namespace, workload_kind, workload, rule, dest
    )
    WINDOW
        w1 AS (PARTITION BY cluster, namespace, workload_kind, workload, rule, dest ORDER BY toUInt32(hour) RANGE BETWEEN 86400 PRECEDING AND 1 PRECEDING),
        w3 AS (PARTITION BY cluster, namespace, workload_kind, workload, rule, dest ORDER BY toUInt32(hour) RANGE BETWEEN 259200 PRECEDING AND 1 PRECEDING),
        w7 AS (PARTITION BY cluster, namespace, workload_kind, workload, rule, dest ORDER BY toUInt32(hour) RANGE BETWEEN 604800 PRECEDING AND 1 PRECEDING),
        w14 AS (PARTITION BY cluster, namespace, workload_kind, workload, rule, dest ORDER BY toUInt32(hour) RANGE BETWEEN 1209600 PRECEDING AND 1 PRECEDING),
        w30 AS (PARTITION BY cluster, namespace, workload_kind, workload, rule, dest ORDER BY toUInt32(hour) RANGE BETWEEN 2592000 PRECEDING AND 1 PRECEDING)
) AS h
LEFT JOIN (
    SELECT cluster, namespace, workload_kind, workload, minIf(hour, hour >= t_new) AS f_new, minIf(hour, hour >= t_spike) AS f_spike
    FROM {{db}}.workload_hourly
    WHERE hour >= least(t_new, t_spike) AND hour < toDateTime({to:UInt32}, 'UTC')
      AND has(judged, (cluster, namespace, workload_kind, workload))
    GROUP BY cluster, namespace, workload_kind, workload
) AS f ON f.cluster = h.cluster AND f.namespace = h.namespace AND f.workload_kind = h.workload_kind AND f.workload = h.workload
WHERE h.hour >= t_from
  AND multiIf(
      h.rule IN ('NEW_COUNTRY', 'NEW_ASN'),
          h.bytes >= h.min_bytes AND h.baseline < cfg.baseline_min_bytes AND f.f_new > toDateTime(0, 'UTC') AND f.f_new <= h.hour - toIntervalHour(cfg.learning_hours),
      h.rule = 'UNEXPECTED_COUNTRY',
          h.bytes >= cfg.unexpected_min_bytes
          AND NOT has(arrayReverseSort(e -> (e.2 != '*') * 2 + (e.4 != '*'),
                                       arrayFilter(e -> (e.1 = '*' OR e.1 = h.cluster) AND (e.2 = '*' OR e.2 = h.namespace) AND (e.3 = '*' OR e.3 = h.workload_kind)
                                                        AND (e.4 = '*' OR e.4 = h.workload), expected))[1].5 AS top_countries, h.dest)
          AND notEmpty(top_countries),
      h.rule = 'VOLUME_SPIKE',
          h.bytes >= cfg.spike_min_bytes AND h.bytes >= cfg.spike_ratio * h.peak AND f.f_spike > toDateTime(0, 'UTC') AND f.f_spike <= h.hour - toIntervalDay(7),
      true)
SETTINGS max_rows_to_group_by = 0, group_by_overflow_mode = 'throw', enable_named_columns_in_function_tuple = 1;

-- The rule views anomalies_window was the union of, and the views only they read: the rules are
-- defined in anomalies_window alone now (0020/0022's text stays the test's reference). One
-- statement each, dependents first (a DROP naming several tables is newer than some servers).
DROP VIEW IF EXISTS {{db}}.anomaly_new_destination;
DROP VIEW IF EXISTS {{db}}.anomaly_unexpected_country;
DROP VIEW IF EXISTS {{db}}.anomaly_mining_port_in;
DROP VIEW IF EXISTS {{db}}.anomaly_volume_spike_in;
DROP VIEW IF EXISTS {{db}}.destination_keys_hourly;
DROP VIEW IF EXISTS {{db}}.anomaly_workloads;
DROP VIEW IF EXISTS {{db}}.workload_first_in;
DROP VIEW IF EXISTS {{db}}.anomaly_baseline_days;
DROP VIEW IF EXISTS {{db}}.anomaly_new_country;
DROP VIEW IF EXISTS {{db}}.anomaly_mining_port;
DROP VIEW IF EXISTS {{db}}.anomaly_volume_spike;
DROP VIEW IF EXISTS {{db}}.destination_countries_hourly;
DROP VIEW IF EXISTS {{db}}.workload_first_seen;
