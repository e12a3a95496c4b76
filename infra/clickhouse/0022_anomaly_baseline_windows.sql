-- NEW_COUNTRY / NEW_ASN baselines by window functions (replaces 0020's range join, which paired
-- every candidate hour with every baseline hour: quadratic in the hours of a destination), and
-- the windows of both baselines partitioned by a 128-bit hash of their key (sorting one
-- FixedString(16) measured ~3x faster than six strings). Same rules, same results (the rule
-- tests compare them with the truth computed from the simulated cluster).

-- The baseline window in days: baseline_days rounded down to 1, 3, 7, 14 or 30 (a window frame
-- cannot take a setting, so the view computes these five frames and picks one).
CREATE OR REPLACE VIEW {{db}}.anomaly_baseline_days AS
SELECT toUInt32(multiIf(baseline_days >= 30, 30, baseline_days >= 14, 14, baseline_days >= 7, 7, baseline_days >= 3, 3, 1)) AS days
FROM {{db}}.anomaly_config;

-- NEW_COUNTRY and NEW_ASN: at least the rule's minimum in the hour, to a destination the
-- workload sent less than baseline_min_bytes to in the baseline window before the hour (window
-- functions over the hourly series, partitioned by a 128-bit hash of the key: sorting one
-- FixedString(16) is ~3x faster than six strings); a workload with no traffic in its
-- baseline window older than learning_hours is still learning.
CREATE OR REPLACE VIEW {{db}}.anomaly_new_destination AS
SELECT
    c.hour AS window_start, c.cluster AS cluster, c.namespace AS namespace, c.workload_kind AS workload_kind, c.workload AS workload,
    c.rule AS rule, c.country AS country, c.asn AS asn, c.ip AS ip, c.port AS port,
    c.bytes AS bytes, toUInt64(c.baseline) AS baseline_bytes,
    c.bytes / greatest(c.min_bytes, 1) AS score,
    if(c.bytes >= 100 * c.min_bytes, 'HIGH', 'MEDIUM') AS severity,
    c.dest AS dest_key
FROM (
    SELECT
        d.*,
        if(d.rule = 'NEW_COUNTRY', cfg.new_country_min_bytes, cfg.new_asn_min_bytes) AS min_bytes,
        multiIf(bd.days = 30, sum(d.bytes) OVER w30, bd.days = 14, sum(d.bytes) OVER w14, bd.days = 7, sum(d.bytes) OVER w7,
                bd.days = 3, sum(d.bytes) OVER w3, sum(d.bytes) OVER w1) AS baseline
    FROM {{db}}.destination_keys_hourly(from = {from:UInt32}, to = {to:UInt32}, back = 86400 * (SELECT days FROM {{db}}.anomaly_baseline_days)) AS d
    CROSS JOIN {{db}}.anomaly_config AS cfg
    CROSS JOIN {{db}}.anomaly_baseline_days AS bd
    WINDOW
        w1 AS (PARTITION BY sipHash128(d.cluster, d.namespace, d.workload_kind, d.workload, d.rule, d.dest) ORDER BY toUInt32(d.hour) RANGE BETWEEN 86400 PRECEDING AND 1 PRECEDING),
        w3 AS (PARTITION BY sipHash128(d.cluster, d.namespace, d.workload_kind, d.workload, d.rule, d.dest) ORDER BY toUInt32(d.hour) RANGE BETWEEN 259200 PRECEDING AND 1 PRECEDING),
        w7 AS (PARTITION BY sipHash128(d.cluster, d.namespace, d.workload_kind, d.workload, d.rule, d.dest) ORDER BY toUInt32(d.hour) RANGE BETWEEN 604800 PRECEDING AND 1 PRECEDING),
        w14 AS (PARTITION BY sipHash128(d.cluster, d.namespace, d.workload_kind, d.workload, d.rule, d.dest) ORDER BY toUInt32(d.hour) RANGE BETWEEN 1209600 PRECEDING AND 1 PRECEDING),
        w30 AS (PARTITION BY sipHash128(d.cluster, d.namespace, d.workload_kind, d.workload, d.rule, d.dest) ORDER BY toUInt32(d.hour) RANGE BETWEEN 2592000 PRECEDING AND 1 PRECEDING)
) AS c
INNER JOIN {{db}}.workload_first_in(from = {from:UInt32}, to = {to:UInt32}, back = 86400 * (SELECT days FROM {{db}}.anomaly_baseline_days)) AS f
    ON f.cluster = c.cluster AND f.namespace = c.namespace AND f.workload_kind = c.workload_kind AND f.workload = c.workload
CROSS JOIN {{db}}.anomaly_config AS cfg
WHERE c.hour >= toDateTime({from:UInt32}, 'UTC')
  AND c.bytes >= c.min_bytes
  AND c.baseline < cfg.baseline_min_bytes
  AND f.first_hour <= c.hour - toIntervalHour(cfg.learning_hours)
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
        max(bytes) OVER (PARTITION BY sipHash128(cluster, namespace, workload_kind, workload) ORDER BY toUInt32(hour)
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
