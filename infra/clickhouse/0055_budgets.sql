-- Budgets per namespace or chargeback label value (issue 8, DESIGN.md section 6): spend over a
-- configured budget, day or month to date (UTC). label_key '' is a namespace's budget; else the
-- budget is for the traffic of pods whose label label_key is label_value (label_hourly, 0053),
-- within the namespace (or '*': anywhere in the cluster). Parameters in a table, not in the SQL text: insert a row with a later
-- updated_at to change one; usd <= 0 removes it. cluster '*' applies to every cluster (a row for
-- the cluster beats it); namespace '*' is the whole cluster's spend. Every statement is safe to replay.
CREATE TABLE IF NOT EXISTS {{db}}.budgets
(
    cluster LowCardinality(String) DEFAULT '*',
    namespace LowCardinality(String),
    label_key LowCardinality(String) DEFAULT '',
    label_value String DEFAULT '',
    period Enum8('day' = 1, 'month' = 2),
    usd Float64,
    updated_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(updated_at)
ORDER BY (cluster, namespace, label_key, label_value, period);

-- The budgets in force: per (cluster, namespace, period) of the traffic, the most specific row.
-- (The cluster list comes from the hourly rollup's clusters seen in [from, to).)
CREATE OR REPLACE VIEW {{db}}.budgets_current AS
SELECT cluster, namespace, label_key, label_value, period, usd
FROM (
    SELECT cluster, namespace, label_key, label_value, period, argMax(usd, updated_at) AS usd
    FROM {{db}}.budgets GROUP BY cluster, namespace, label_key, label_value, period
)
WHERE usd > 0;

-- The budgets in force per cluster with traffic in [from, to): the cluster's own row beats '*'.
CREATE OR REPLACE VIEW {{db}}.budgets_by_cluster AS
SELECT cl.cluster AS cluster, b.namespace AS namespace, b.label_key AS label_key, b.label_value AS label_value, b.period AS period,
       argMax(b.usd, b.cluster != '*') AS budget_usd
FROM (
    SELECT DISTINCT cluster FROM {{db}}.workload_hourly
    WHERE hour >= toDateTime({from:UInt32}, 'UTC') AND hour < toDateTime({to:UInt32}, 'UTC')
) AS cl
CROSS JOIN {{db}}.budgets_current AS b
WHERE b.cluster = '*' OR b.cluster = cl.cluster
GROUP BY cluster, namespace, label_key, label_value, period
SETTINGS max_rows_to_group_by = 0, group_by_overflow_mode = 'throw';

-- Spend per budget and hour over [start of the month that holds `from`, to): the cost view is read
-- only there (a day or month to date needs at most the month before `from`).
CREATE OR REPLACE VIEW {{db}}.budget_spend_hourly AS
SELECT
    c.hour AS hour, c.cluster AS cluster, k.namespace AS namespace, k.label_key AS label_key, k.label_value AS label_value, k.period AS period,
    if(k.period = 'day', toStartOfDay(c.hour), toDateTime(toStartOfMonth(c.hour), 'UTC')) AS period_start,
    any(k.budget_usd) AS budget_usd, sum(c.usd) AS usd
FROM (
    SELECT hour, toString(cluster) AS cluster, toString(namespace) AS namespace, '' AS label_key, '' AS label_value, sum(total_usd) AS usd
    FROM {{db}}.workload_cost_hourly
    WHERE hour >= toDateTime(toStartOfMonth(toDateTime({from:UInt32}, 'UTC')), 'UTC') AND hour < toDateTime({to:UInt32}, 'UTC')
    GROUP BY hour, cluster, namespace
    UNION ALL
    SELECT hour, toString(cluster), toString(namespace), toString(label_key), toString(label_value), sum(total_usd)
    FROM {{db}}.label_cost_hourly
    WHERE hour >= toDateTime(toStartOfMonth(toDateTime({from:UInt32}, 'UTC')), 'UTC') AND hour < toDateTime({to:UInt32}, 'UTC')
    GROUP BY hour, cluster, namespace, label_key, label_value
) AS c
INNER JOIN {{db}}.budgets_by_cluster(from = toUInt32(toStartOfMonth(toDateTime({from:UInt32}, 'UTC'))), to = {to:UInt32}) AS k
    ON k.cluster = c.cluster AND k.label_key = c.label_key AND k.label_value = c.label_value
WHERE k.namespace = '*' OR k.namespace = c.namespace
GROUP BY hour, cluster, namespace, label_key, label_value, period, period_start
SETTINGS max_rows_to_group_by = 0, group_by_overflow_mode = 'throw';

-- Budget status at `at` (unix s): per budget, the spend of its period to date ([start of the day
-- or month that holds at, at)), the budget and whether it is exceeded. A budget with no spend yet
-- in its period shows 0 (a LEFT JOIN's default).
CREATE OR REPLACE VIEW {{db}}.budget_status AS
SELECT
    toString(k.cluster) AS cluster, toString(k.namespace) AS namespace, toString(k.label_key) AS label_key, k.label_value AS label_value,
    toString(k.period) AS period, k.period_start AS period_start,
    k.budget_usd AS budget_usd, s.spent AS spent_usd, spent_usd / k.budget_usd AS share, spent_usd >= k.budget_usd AS over
FROM (
    SELECT cluster, namespace, label_key, label_value, period, budget_usd,
           if(period = 'day', toStartOfDay(toDateTime({at:UInt32}, 'UTC')), toDateTime(toStartOfMonth(toDateTime({at:UInt32}, 'UTC')), 'UTC')) AS period_start
    FROM {{db}}.budgets_by_cluster(from = toUInt32(toStartOfMonth(toDateTime({at:UInt32}, 'UTC'))), to = {at:UInt32})
) AS k
LEFT JOIN (
    SELECT cluster, namespace, label_key, label_value, period, period_start, sum(usd) AS spent
    FROM {{db}}.budget_spend_hourly(from = {at:UInt32}, to = {at:UInt32})
    GROUP BY cluster, namespace, label_key, label_value, period, period_start
) AS s ON s.cluster = k.cluster AND s.namespace = k.namespace AND s.label_key = k.label_key AND s.label_value = k.label_value
      AND s.period = k.period AND s.period_start = k.period_start
SETTINGS max_rows_to_group_by = 0, group_by_overflow_mode = 'throw';

-- Budget overruns in [from, to): per budget and period, the hour its spend to date reached the
-- budget (one row per budget and period: the hour of the crossing), with a stable id.
CREATE OR REPLACE VIEW {{db}}.budget_overruns AS
SELECT
    hour AS window_start, hour + INTERVAL 1 HOUR AS window_end, cluster, toString(namespace) AS namespace, toString(label_key) AS label_key,
    label_value, toString(period) AS period, period_start,
    budget_usd, to_date AS spent_usd, to_date / budget_usd AS score,
    if(to_date >= 2 * budget_usd, 'HIGH', 'MEDIUM') AS severity,
    lower(hex(sipHash128('BUDGET', cluster, namespace, label_key, label_value, period, toUnixTimestamp(period_start)))) AS id
FROM (
    SELECT *, sum(usd) OVER (PARTITION BY cluster, namespace, label_key, label_value, period, period_start ORDER BY hour ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS to_date
    FROM {{db}}.budget_spend_hourly(from = {from:UInt32}, to = {to:UInt32})
)
WHERE hour >= toDateTime({from:UInt32}, 'UTC') AND to_date >= budget_usd AND to_date - usd < budget_usd
SETTINGS max_rows_to_group_by = 0, group_by_overflow_mode = 'throw';
