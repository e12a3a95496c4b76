-- Anomaly views that read only the window they judge plus its baseline (issue 8), NEW_ASN, a
-- baseline minimum volume (a trickle does not make a destination known), and expected countries
-- at three scopes. Parameterized views: `anomalies_window(from = <unix s>, to = <unix s>)` judges
-- the hours in [from, to); every rule parameter is read from anomaly_settings, suspicious_ports
-- and expected_countries (0004), none is in the SQL text.
-- Every aggregating view ends in `SETTINGS max_rows_to_group_by = 0, group_by_overflow_mode =
-- 'throw'`: a reader's trivial `GROUP BY ... LIMIT n` (what Superset sends) turns on
-- optimize_trivial_group_by_limit_query, which sets max_rows_to_group_by = n with overflow mode
-- 'any' for the whole query, and the views' own GROUP BYs then stopped at n keys (seen in chDB
-- 26.7 and 26.9: NEW_COUNTRY rows went missing under LIMIT 1000).

-- New settings (only keys that have no row yet, dated in the past: a replay keeps a user's edit).
--   baseline_min_bytes   NEW_COUNTRY, NEW_ASN: a destination is known only if the workload sent at
--                        least this many egress bytes to it in the baseline window.
--   new_asn_min_bytes    NEW_ASN: least egress bytes in the hour to report a new ASN.
INSERT INTO {{db}}.anomaly_settings (name, value, updated_at)
SELECT s.1, s.2, toDateTime64('2000-01-01 00:00:00', 3, 'UTC')
FROM (
    SELECT arrayJoin([
        ('baseline_min_bytes', 1048576.),
        ('new_asn_min_bytes', 1048576.)
    ]) AS s
)
WHERE s.1 NOT IN (SELECT name FROM {{db}}.anomaly_settings);

CREATE OR REPLACE VIEW {{db}}.anomaly_config AS
SELECT
    toUInt32(anyIf(v, name = 'baseline_days')) AS baseline_days,
    toUInt64(anyIf(v, name = 'new_country_min_bytes')) AS new_country_min_bytes,
    toUInt32(anyIf(v, name = 'learning_hours')) AS learning_hours,
    toUInt64(anyIf(v, name = 'unexpected_min_bytes')) AS unexpected_min_bytes,
    anyIf(v, name = 'spike_ratio') AS spike_ratio,
    toUInt64(anyIf(v, name = 'spike_min_bytes')) AS spike_min_bytes,
    toUInt64(anyIf(v, name = 'baseline_min_bytes')) AS baseline_min_bytes,
    toUInt64(anyIf(v, name = 'new_asn_min_bytes')) AS new_asn_min_bytes
FROM (SELECT name, argMax(value, updated_at) AS v FROM {{db}}.anomaly_settings GROUP BY name);

-- Egress per workload, hour and destination key over [from - back, to): rule NEW_COUNTRY keys
-- by country, NEW_ASN by ASN (unknown '' / 0 are never judged). back: seconds before from.
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
  AND k.2 NOT IN ('', '0')
GROUP BY hour, cluster, namespace, workload_kind, workload, rule, dest
SETTINGS max_rows_to_group_by = 0, group_by_overflow_mode = 'throw';

-- The first hour with traffic of each workload in [from - back, to).
CREATE OR REPLACE VIEW {{db}}.workload_first_in AS
SELECT cluster, namespace, workload_kind, workload, min(hour) AS first_hour
FROM {{db}}.workload_hourly
WHERE hour >= toDateTime({from:UInt32} - least({from:UInt32}, {back:UInt32}), 'UTC')
  AND hour < toDateTime({to:UInt32}, 'UTC')
GROUP BY cluster, namespace, workload_kind, workload
SETTINGS max_rows_to_group_by = 0, group_by_overflow_mode = 'throw';

-- NEW_COUNTRY and NEW_ASN: at least the rule's minimum in the hour, to a destination the
-- workload sent less than baseline_min_bytes to in the baseline_days before the hour; a workload
-- with no traffic in its baseline window older than learning_hours is still learning.
CREATE OR REPLACE VIEW {{db}}.anomaly_new_destination AS
SELECT
    c.hour AS window_start, c.cluster AS cluster, c.namespace AS namespace, c.workload_kind AS workload_kind, c.workload AS workload,
    c.rule AS rule, c.country AS country, c.asn AS asn, c.ip AS ip, c.port AS port,
    c.bytes AS bytes, c.baseline AS baseline_bytes,
    c.bytes / greatest(c.min_bytes, 1) AS score,
    if(c.bytes >= 100 * c.min_bytes, 'HIGH', 'MEDIUM') AS severity,
    c.dest AS dest_key
FROM (
    SELECT
        cur.hour AS hour, cur.cluster AS cluster, cur.namespace AS namespace, cur.workload_kind AS workload_kind, cur.workload AS workload,
        cur.rule AS rule, cur.dest AS dest, any(cur.country) AS country, any(cur.asn) AS asn, any(cur.ip) AS ip, any(cur.port) AS port,
        any(cur.bytes) AS bytes, any(cur.min_bytes) AS min_bytes, toUInt64(sum(base.bytes)) AS baseline
    FROM (
        SELECT d.*, if(d.rule = 'NEW_COUNTRY', cfg.new_country_min_bytes, cfg.new_asn_min_bytes) AS min_bytes
        FROM {{db}}.destination_keys_hourly(from = {from:UInt32}, to = {to:UInt32}, back = 0) AS d
        CROSS JOIN {{db}}.anomaly_config AS cfg
        WHERE d.bytes >= min_bytes
    ) AS cur
    LEFT JOIN {{db}}.destination_keys_hourly(from = {from:UInt32}, to = {to:UInt32}, back = 86400 * (SELECT baseline_days FROM {{db}}.anomaly_config)) AS base
        ON base.cluster = cur.cluster AND base.namespace = cur.namespace AND base.workload_kind = cur.workload_kind
       AND base.workload = cur.workload AND base.rule = cur.rule AND base.dest = cur.dest
       AND base.hour < cur.hour AND base.hour >= cur.hour - toIntervalDay((SELECT baseline_days FROM {{db}}.anomaly_config))
    GROUP BY hour, cluster, namespace, workload_kind, workload, rule, dest
) AS c
INNER JOIN {{db}}.workload_first_in(from = {from:UInt32}, to = {to:UInt32}, back = 86400 * (SELECT baseline_days FROM {{db}}.anomaly_config)) AS f
    ON f.cluster = c.cluster AND f.namespace = c.namespace AND f.workload_kind = c.workload_kind AND f.workload = c.workload
CROSS JOIN {{db}}.anomaly_config AS cfg
WHERE c.baseline < cfg.baseline_min_bytes
  AND f.first_hour <= c.hour - toIntervalHour(cfg.learning_hours)
SETTINGS max_rows_to_group_by = 0, group_by_overflow_mode = 'throw';

-- Expected countries at three scopes: a row with namespace '*' and workload '*' is global, one
-- with workload '*' is for a namespace, else for a workload; the most specific row applies.
CREATE OR REPLACE VIEW {{db}}.anomaly_unexpected_country AS
SELECT
    d.hour AS window_start, d.cluster AS cluster, d.namespace AS namespace, d.workload_kind AS workload_kind, d.workload AS workload,
    'UNEXPECTED_COUNTRY' AS rule, d.dest AS country, d.asn AS asn, d.ip AS ip, d.port AS port,
    d.bytes AS bytes, toUInt64(0) AS baseline_bytes,
    d.bytes / 1048576 AS score,
    'HIGH' AS severity,
    d.dest AS dest_key
FROM (
    SELECT d.*, argMax(e.countries, (e.namespace != '*') * 2 + (e.workload != '*')) AS expected
    FROM {{db}}.destination_keys_hourly(from = {from:UInt32}, to = {to:UInt32}, back = 0) AS d
    CROSS JOIN (
        SELECT cluster, namespace, workload_kind, workload, argMax(countries, updated_at) AS countries
        FROM {{db}}.expected_countries
        GROUP BY cluster, namespace, workload_kind, workload
    ) AS e
    WHERE d.rule = 'NEW_COUNTRY'
      AND (e.namespace = '*' OR e.namespace = d.namespace)
      AND (e.workload = '*' OR e.workload = d.workload)
      AND (e.cluster = '*' OR e.cluster = d.cluster)
      AND (e.workload_kind = '*' OR e.workload_kind = d.workload_kind)
    GROUP BY d.hour, d.cluster, d.namespace, d.workload_kind, d.workload, d.rule, d.dest, d.bytes, d.country, d.asn, d.port, d.ip
) AS d
CROSS JOIN {{db}}.anomaly_config AS cfg
WHERE notEmpty(d.expected)
  AND NOT has(d.expected, d.dest)
  AND d.bytes >= cfg.unexpected_min_bytes
SETTINGS max_rows_to_group_by = 0, group_by_overflow_mode = 'throw';

CREATE OR REPLACE VIEW {{db}}.anomaly_mining_port_in AS
SELECT
    hour AS window_start, cluster, namespace, workload_kind, workload,
    'MINING_PORT' AS rule, toString(remote_country) AS country, remote_asn AS asn, toString(min(sample_ip)) AS ip, remote_port AS port,
    sum(egress_bytes) AS bytes, toUInt64(0) AS baseline_bytes,
    toFloat64(sum(flows)) AS score,
    if(max(class = 'internet'), 'CRITICAL', 'HIGH') AS severity,
    concat(country, '/', toString(asn), '/', toString(port)) AS dest_key
FROM {{db}}.destinations_hourly
WHERE hour >= toDateTime({from:UInt32}, 'UTC') AND hour < toDateTime({to:UInt32}, 'UTC')
  AND class IN ('internet', 'private')
  AND remote_port IN (
      SELECT port FROM (SELECT port, argMax(enabled, updated_at) AS on FROM {{db}}.suspicious_ports GROUP BY port) WHERE on
  )
GROUP BY hour, cluster, namespace, workload_kind, workload, remote_country, remote_asn, remote_port
SETTINGS max_rows_to_group_by = 0, group_by_overflow_mode = 'throw';

-- Hourly external egress against the busiest hour of the previous 7 days (fixed: a window frame
-- cannot take a setting), reading [from - 7 days, to) only. The workload must be 7 days old: it
-- has traffic between 14 and 7 days before the hour (workload_hourly over [from - 14 days, to)).
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
        max(bytes) OVER (PARTITION BY cluster, namespace, workload_kind, workload ORDER BY toUInt32(hour)
                         RANGE BETWEEN 604800 PRECEDING AND 1 PRECEDING) AS baseline
    FROM (
        SELECT hour, cluster, namespace, workload_kind, workload, sum(egress_bytes) AS bytes
        FROM {{db}}.destinations_hourly
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

-- Every anomaly whose hour is in [from, to): one row per rule, workload, destination and hour.
-- id is stable: a hash of rule, workload, destination key (country; ASN; country/asn/port for
-- MINING_PORT; none for VOLUME_SPIKE) and window start.
CREATE OR REPLACE VIEW {{db}}.anomalies_window AS
SELECT
    window_start,
    window_start + INTERVAL 1 HOUR AS window_end,
    cluster, namespace, workload_kind, workload, rule, country, asn, ip, port, bytes, baseline_bytes, score, severity,
    lower(hex(sipHash128(rule, cluster, namespace, workload_kind, workload, dest_key, toUnixTimestamp(window_start)))) AS id
FROM (
    SELECT window_start, toString(cluster) AS cluster, toString(namespace) AS namespace, toString(workload_kind) AS workload_kind,
           toString(workload) AS workload, rule, country, toUInt32(asn) AS asn, ip, toUInt16(port) AS port, toUInt64(bytes) AS bytes,
           toUInt64(baseline_bytes) AS baseline_bytes, toFloat64(score) AS score, severity, dest_key
    FROM {{db}}.anomaly_new_destination(from = {from:UInt32}, to = {to:UInt32})
    UNION ALL
    SELECT window_start, toString(cluster), toString(namespace), toString(workload_kind), toString(workload), rule, country, toUInt32(asn), ip,
           toUInt16(port), toUInt64(bytes), toUInt64(baseline_bytes), toFloat64(score), severity, dest_key
    FROM {{db}}.anomaly_unexpected_country(from = {from:UInt32}, to = {to:UInt32})
    UNION ALL
    SELECT window_start, toString(cluster), toString(namespace), toString(workload_kind), toString(workload), rule, country, toUInt32(asn), ip,
           toUInt16(port), toUInt64(bytes), toUInt64(baseline_bytes), toFloat64(score), severity, dest_key
    FROM {{db}}.anomaly_mining_port_in(from = {from:UInt32}, to = {to:UInt32})
    UNION ALL
    SELECT window_start, toString(cluster), toString(namespace), toString(workload_kind), toString(workload), rule, country, toUInt32(asn), ip,
           toUInt16(port), toUInt64(bytes), toUInt64(baseline_bytes), toFloat64(score), severity, dest_key
    FROM {{db}}.anomaly_volume_spike_in(from = {from:UInt32}, to = {to:UInt32})
)
SETTINGS max_rows_to_group_by = 0, group_by_overflow_mode = 'throw';

-- The unparameterized view (Superset's dataset, ad-hoc SQL): every anomaly of all stored hours.
CREATE OR REPLACE VIEW {{db}}.anomalies AS
SELECT * FROM {{db}}.anomalies_window(from = 0, to = 4294967295);

-- What `tollgate alerts` has published to egress.anomalies.v1: filled from the topic itself (the
-- publisher's ledger follower records every event it reads there), so an event produced just before
-- a crash is found after the restart and not produced again. One row per anomaly id.
CREATE TABLE IF NOT EXISTS {{db}}.alerts_published
(
    id String,
    topic String,
    partition UInt32,
    offset UInt64,
    window_start DateTime('UTC'),
    recorded_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree
ORDER BY id;
