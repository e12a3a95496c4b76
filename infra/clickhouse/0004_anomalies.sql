-- Anomalous destinations (DESIGN.md section 6): views over the hourly rollups, tuned by
-- editable tables. Edit a setting or a port by inserting a row with a later updated_at.

-- Settings: name -> value.
--   baseline_days           NEW_COUNTRY: a country is new if the workload did not talk to it in this many days before the hour.
--   new_country_min_bytes   NEW_COUNTRY: least egress bytes in the hour to report a new country.
--   learning_hours          A workload whose first traffic is less than this many hours before the hour is not judged (NEW_COUNTRY, VOLUME_SPIKE).
--   unexpected_min_bytes    UNEXPECTED_COUNTRY: least egress bytes in the hour.
--   spike_ratio             VOLUME_SPIKE: hour egress >= ratio x the busiest hour of the previous 7 days ...
--   spike_min_bytes         ... and >= this absolute floor.
CREATE TABLE IF NOT EXISTS {{db}}.anomaly_settings
(
    name LowCardinality(String),
    value Float64,
    updated_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(updated_at)
ORDER BY name;

INSERT INTO {{db}}.anomaly_settings (name, value, updated_at)
SELECT s.1, s.2, toDateTime64('2000-01-01 00:00:00', 3, 'UTC')
FROM (
    SELECT arrayJoin([
        ('baseline_days', 7.),
        ('new_country_min_bytes', 1048576.),
        ('learning_hours', 24.),
        ('unexpected_min_bytes', 1.),
        ('spike_ratio', 3.),
        ('spike_min_bytes', 104857600.)
    ]) AS s
)
WHERE s.1 NOT IN (SELECT name FROM {{db}}.anomaly_settings);

-- Ports of known crypto-mining pools (stratum) and any a user adds; enabled = 0 turns one off.
CREATE TABLE IF NOT EXISTS {{db}}.suspicious_ports
(
    port UInt16,
    label String,
    enabled Bool DEFAULT true,
    updated_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(updated_at)
ORDER BY port;

INSERT INTO {{db}}.suspicious_ports (port, label, enabled, updated_at)
SELECT s.1, s.2, true, toDateTime64('2000-01-01 00:00:00', 3, 'UTC')
FROM (
    SELECT arrayJoin([
        (toUInt16(3333), 'stratum (mining pool)'),
        (3334, 'stratum (mining pool)'),
        (3335, 'stratum (mining pool)'),
        (3357, 'stratum (mining pool)'),
        (4444, 'stratum (mining pool)'),
        (5555, 'stratum (mining pool)'),
        (6666, 'stratum (mining pool)'),
        (7777, 'stratum (mining pool)'),
        (14433, 'stratum+tls (mining pool)'),
        (14444, 'stratum+tls (mining pool)'),
        (45560, 'stratum (mining pool)'),
        (45700, 'stratum (mining pool)')
    ]) AS s
)
WHERE s.1 NOT IN (SELECT port FROM {{db}}.suspicious_ports);

-- Expected destination countries per workload (optional). cluster and workload_kind may be
-- '*'. An empty array removes the expectation.
CREATE TABLE IF NOT EXISTS {{db}}.expected_countries
(
    cluster LowCardinality(String) DEFAULT '*',
    namespace LowCardinality(String),
    workload_kind LowCardinality(String) DEFAULT '*',
    workload LowCardinality(String),
    countries Array(String),
    updated_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(updated_at)
ORDER BY (cluster, namespace, workload_kind, workload);

CREATE OR REPLACE VIEW {{db}}.anomaly_config AS
SELECT
    toUInt32(anyIf(v, name = 'baseline_days')) AS baseline_days,
    toUInt64(anyIf(v, name = 'new_country_min_bytes')) AS new_country_min_bytes,
    toUInt32(anyIf(v, name = 'learning_hours')) AS learning_hours,
    toUInt64(anyIf(v, name = 'unexpected_min_bytes')) AS unexpected_min_bytes,
    anyIf(v, name = 'spike_ratio') AS spike_ratio,
    toUInt64(anyIf(v, name = 'spike_min_bytes')) AS spike_min_bytes
FROM (SELECT name, argMax(value, updated_at) AS v FROM {{db}}.anomaly_settings GROUP BY name);

CREATE OR REPLACE VIEW {{db}}.workload_first_seen AS
SELECT cluster, namespace, workload_kind, workload, min(hour) AS first_hour
FROM {{db}}.workload_hourly
GROUP BY cluster, namespace, workload_kind, workload;

-- Per workload, hour and destination country: egress, the biggest ASN and port, a sample IP,
-- and the last earlier hour the workload talked to that country.
CREATE OR REPLACE VIEW {{db}}.destination_countries_hourly AS
SELECT
    *,
    max(hour) OVER (PARTITION BY cluster, namespace, workload_kind, workload, country ORDER BY hour
                    ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS prev_hour
FROM (
    SELECT
        hour, cluster, namespace, workload_kind, workload,
        toString(remote_country) AS country,
        sum(egress_bytes) AS bytes,
        argMax(remote_asn, egress_bytes) AS asn,
        argMax(remote_port, egress_bytes) AS port,
        toString(min(sample_ip)) AS ip
    FROM {{db}}.destinations_hourly
    WHERE remote_country != ''
    GROUP BY hour, cluster, namespace, workload_kind, workload, country
);

CREATE OR REPLACE VIEW {{db}}.anomaly_new_country AS
SELECT
    d.hour AS window_start, d.cluster AS cluster, d.namespace AS namespace, d.workload_kind AS workload_kind, d.workload AS workload,
    'NEW_COUNTRY' AS rule, d.country AS country, d.asn AS asn, d.ip AS ip, d.port AS port,
    d.bytes AS bytes, toUInt64(0) AS baseline_bytes,
    d.bytes / greatest(c.new_country_min_bytes, 1) AS score,
    if(d.bytes >= 100 * c.new_country_min_bytes, 'HIGH', 'MEDIUM') AS severity,
    d.country AS dest_key
FROM {{db}}.destination_countries_hourly AS d
INNER JOIN {{db}}.workload_first_seen AS f
    ON f.cluster = d.cluster AND f.namespace = d.namespace AND f.workload_kind = d.workload_kind AND f.workload = d.workload
CROSS JOIN {{db}}.anomaly_config AS c
WHERE d.bytes >= c.new_country_min_bytes
  AND d.prev_hour < d.hour - toIntervalDay(c.baseline_days)
  AND f.first_hour <= d.hour - toIntervalHour(c.learning_hours);

CREATE OR REPLACE VIEW {{db}}.anomaly_unexpected_country AS
SELECT
    d.hour AS window_start, d.cluster AS cluster, d.namespace AS namespace, d.workload_kind AS workload_kind, d.workload AS workload,
    'UNEXPECTED_COUNTRY' AS rule, d.country AS country, d.asn AS asn, d.ip AS ip, d.port AS port,
    d.bytes AS bytes, toUInt64(0) AS baseline_bytes,
    d.bytes / 1048576 AS score,
    'HIGH' AS severity,
    d.country AS dest_key
FROM {{db}}.destination_countries_hourly AS d
INNER JOIN (
    SELECT cluster, namespace, workload_kind, workload, argMax(countries, updated_at) AS countries
    FROM {{db}}.expected_countries
    GROUP BY cluster, namespace, workload_kind, workload
) AS e ON e.namespace = d.namespace AND e.workload = d.workload
CROSS JOIN {{db}}.anomaly_config AS c
WHERE (e.cluster = '*' OR e.cluster = d.cluster)
  AND (e.workload_kind = '*' OR e.workload_kind = d.workload_kind)
  AND notEmpty(e.countries)
  AND NOT has(e.countries, d.country)
  AND d.bytes >= c.unexpected_min_bytes;

CREATE OR REPLACE VIEW {{db}}.anomaly_mining_port AS
SELECT
    hour AS window_start, cluster, namespace, workload_kind, workload,
    'MINING_PORT' AS rule, toString(remote_country) AS country, remote_asn AS asn, toString(min(sample_ip)) AS ip, remote_port AS port,
    sum(egress_bytes) AS bytes, toUInt64(0) AS baseline_bytes,
    toFloat64(sum(flows)) AS score,
    if(max(class = 'internet'), 'CRITICAL', 'HIGH') AS severity,
    concat(country, '/', toString(asn), '/', toString(port)) AS dest_key
FROM {{db}}.destinations_hourly
WHERE class IN ('internet', 'private')
  AND remote_port IN (
      SELECT port FROM (SELECT port, argMax(enabled, updated_at) AS on FROM {{db}}.suspicious_ports GROUP BY port) WHERE on
  )
GROUP BY hour, cluster, namespace, workload_kind, workload, remote_country, remote_asn, remote_port;

-- Hourly external egress (what destinations_hourly holds) against the busiest hour of the
-- previous 7 days (fixed window: a window frame cannot take a setting). The peak, not the
-- average, so a daily batch job is compared with its own earlier runs, not with idle hours.
CREATE OR REPLACE VIEW {{db}}.anomaly_volume_spike AS
SELECT
    s.hour AS window_start, s.cluster AS cluster, s.namespace AS namespace, s.workload_kind AS workload_kind, s.workload AS workload,
    'VOLUME_SPIKE' AS rule, '' AS country, toUInt32(0) AS asn, '' AS ip, toUInt16(0) AS port,
    s.bytes AS bytes, toUInt64(s.baseline) AS baseline_bytes,
    s.bytes / greatest(s.baseline, 1) AS score,
    if(s.bytes >= 10 * c.spike_ratio * s.baseline, 'HIGH', 'MEDIUM') AS severity,
    '' AS dest_key
FROM (
    SELECT
        *,
        max(bytes) OVER (PARTITION BY cluster, namespace, workload_kind, workload ORDER BY toUInt32(hour)
                         RANGE BETWEEN 604800 PRECEDING AND 1 PRECEDING) AS baseline
    FROM (
        SELECT hour, cluster, namespace, workload_kind, workload, sum(egress_bytes) AS bytes
        FROM {{db}}.destinations_hourly
        GROUP BY hour, cluster, namespace, workload_kind, workload
    )
) AS s
INNER JOIN {{db}}.workload_first_seen AS f
    ON f.cluster = s.cluster AND f.namespace = s.namespace AND f.workload_kind = s.workload_kind AND f.workload = s.workload
CROSS JOIN {{db}}.anomaly_config AS c
WHERE s.bytes >= c.spike_min_bytes
  AND s.bytes >= c.spike_ratio * s.baseline
  AND f.first_hour <= s.hour - toIntervalDay(7);

-- Every anomaly, one row per rule, workload, destination and hour. id is stable: a hash of
-- rule, workload, destination key (country; country/asn/port for MINING_PORT) and window.
CREATE OR REPLACE VIEW {{db}}.anomalies AS
SELECT
    window_start,
    window_start + INTERVAL 1 HOUR AS window_end,
    cluster, namespace, workload_kind, workload, rule, country, asn, ip, port, bytes, baseline_bytes, score, severity,
    lower(hex(sipHash128(rule, cluster, namespace, workload_kind, workload, dest_key, toUnixTimestamp(window_start)))) AS id
FROM (
    SELECT window_start, toString(cluster) AS cluster, toString(namespace) AS namespace, toString(workload_kind) AS workload_kind,
           toString(workload) AS workload, rule, country, toUInt32(asn) AS asn, ip, toUInt16(port) AS port, toUInt64(bytes) AS bytes,
           baseline_bytes, toFloat64(score) AS score, severity, dest_key
    FROM {{db}}.anomaly_new_country
    UNION ALL
    SELECT window_start, toString(cluster), toString(namespace), toString(workload_kind), toString(workload), rule, country, toUInt32(asn), ip,
           toUInt16(port), toUInt64(bytes), baseline_bytes, toFloat64(score), severity, dest_key
    FROM {{db}}.anomaly_unexpected_country
    UNION ALL
    SELECT window_start, toString(cluster), toString(namespace), toString(workload_kind), toString(workload), rule, country, toUInt32(asn), ip,
           toUInt16(port), toUInt64(bytes), baseline_bytes, toFloat64(score), severity, dest_key
    FROM {{db}}.anomaly_mining_port
    UNION ALL
    SELECT window_start, toString(cluster), toString(namespace), toString(workload_kind), toString(workload), rule, country, toUInt32(asn), ip,
           toUInt16(port), toUInt64(bytes), baseline_bytes, toFloat64(score), severity, dest_key
    FROM {{db}}.anomaly_volume_spike
);
