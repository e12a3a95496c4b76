-- rollup_input's weight (issue 9, the sink's speed): the sink folds each message's flows into one
-- rollup_input row per distinct value of the columns the views group by (the time to the hour;
-- the remote columns only on destination rows, which are the only rows the views read them on:
-- flows-table.ts, isDestinationRow), with the bytes and packets summed and `flows` the number of
-- flows folded. A row fed without it (INSERT ... SELECT from flows) is one flow (DEFAULT 1).
-- Every view on rollup_input counted rows (count()); each now sums `flows`, the rest unchanged.
-- The sink feeds rollup_input only after the migrations ran, so nothing passes while a view is
-- replaced. Every statement is safe to replay.
ALTER TABLE {{db}}.rollup_input ADD COLUMN IF NOT EXISTS flows UInt64 DEFAULT 1 AFTER ingress_packets;

DROP VIEW IF EXISTS {{db}}.workload_hourly_mv;
CREATE MATERIALIZED VIEW IF NOT EXISTS {{db}}.workload_hourly_mv TO {{db}}.workload_hourly AS
SELECT
    toStartOfHour(time) AS hour, cluster, cloud, local_region AS region, local_namespace AS namespace,
    local_workload_kind AS workload_kind, local_workload AS workload, class, nat_gateway, priced_as,
    sum(egress_bytes) AS egress_bytes, sum(ingress_bytes) AS ingress_bytes,
    sum(egress_packets) AS egress_packets, sum(ingress_packets) AS ingress_packets,
    sum(flows) AS flows
FROM {{db}}.rollup_input
GROUP BY hour, cluster, cloud, region, namespace, workload_kind, workload, class, nat_gateway, priced_as;

DROP VIEW IF EXISTS {{db}}.workload_daily_mv;
CREATE MATERIALIZED VIEW IF NOT EXISTS {{db}}.workload_daily_mv TO {{db}}.workload_daily AS
SELECT
    toDate(time) AS day, cluster, cloud, local_region AS region, local_namespace AS namespace,
    local_workload_kind AS workload_kind, local_workload AS workload, class, nat_gateway, priced_as,
    sum(egress_bytes) AS egress_bytes, sum(ingress_bytes) AS ingress_bytes,
    sum(egress_packets) AS egress_packets, sum(ingress_packets) AS ingress_packets,
    sum(flows) AS flows
FROM {{db}}.rollup_input
GROUP BY day, cluster, cloud, region, namespace, workload_kind, workload, class, nat_gateway, priced_as;

DROP VIEW IF EXISTS {{db}}.destinations_hourly_mv;
CREATE MATERIALIZED VIEW IF NOT EXISTS {{db}}.destinations_hourly_mv TO {{db}}.destinations_hourly AS
SELECT
    toStartOfHour(time) AS hour, cluster, local_namespace AS namespace, local_workload_kind AS workload_kind,
    local_workload AS workload, class, remote_country, remote_asn, remote_port,
    sum(egress_bytes) AS egress_bytes, sum(ingress_bytes) AS ingress_bytes, sum(flows) AS flows,
    min(remote_ip) AS sample_ip, max(remote_as_org) AS as_org
FROM {{db}}.rollup_input
WHERE role = 'INITIATOR' AND class IN ('internet', 'private', 'direct', 'cloud_service')
GROUP BY hour, cluster, namespace, workload_kind, workload, class, remote_country, remote_asn, remote_port;

DROP VIEW IF EXISTS {{db}}.label_hourly_mv;
CREATE MATERIALIZED VIEW IF NOT EXISTS {{db}}.label_hourly_mv TO {{db}}.label_hourly AS
SELECT
    toStartOfHour(time) AS hour, cluster, cloud, local_region AS region, local_namespace AS namespace,
    local_workload_kind AS workload_kind, local_workload AS workload, label_key, label_value, class, nat_gateway, priced_as,
    sum(egress_bytes) AS egress_bytes, sum(ingress_bytes) AS ingress_bytes, sum(flows) AS flows
FROM {{db}}.rollup_input
ARRAY JOIN mapKeys(local_labels) AS label_key, mapValues(local_labels) AS label_value
GROUP BY hour, cluster, cloud, region, namespace, workload_kind, workload, label_key, label_value, class, nat_gateway, priced_as;

DROP VIEW IF EXISTS {{db}}.destination_keys_daily_mv;
CREATE MATERIALIZED VIEW IF NOT EXISTS {{db}}.destination_keys_daily_mv TO {{db}}.destination_keys_daily AS
SELECT
    toDate(time) AS day, cluster, local_namespace AS namespace, local_workload_kind AS workload_kind, local_workload AS workload,
    k.1 AS key_kind, k.2 AS dest,
    sum(egress_bytes) AS egress_bytes, sum(flows) AS flows,
    min(toStartOfHour(time)) AS first_hour, max(toStartOfHour(time)) AS last_hour
FROM {{db}}.rollup_input
ARRAY JOIN arrayConcat(
    [('traffic', '')],
    if(role = 'INITIATOR' AND class IN ('internet', 'private', 'direct', 'cloud_service'),
       arrayFilter(x -> x.2 NOT IN ('', '0'), [('country', remote_country), ('asn', toString(remote_asn))]),
       [])) AS k
GROUP BY day, cluster, namespace, workload_kind, workload, key_kind, dest;

DROP VIEW IF EXISTS {{db}}.workload_egress_hourly_mv;
CREATE MATERIALIZED VIEW IF NOT EXISTS {{db}}.workload_egress_hourly_mv TO {{db}}.workload_egress_hourly AS
SELECT
    toStartOfHour(time) AS hour, cluster, local_namespace AS namespace, local_workload_kind AS workload_kind, local_workload AS workload,
    sum(egress_bytes) AS egress_bytes, sum(flows) AS flows
FROM {{db}}.rollup_input
WHERE role = 'INITIATOR' AND class IN ('internet', 'private', 'direct', 'cloud_service')
GROUP BY hour, cluster, namespace, workload_kind, workload;
