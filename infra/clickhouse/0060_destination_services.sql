-- Top destinations by cloud service and by Kubernetes Service (issue 8, cost views): rollup_input
-- carries the flow's cloud service (class cloud_service: S3, DynamoDB, ...; a destination column,
-- kept on destination rows only) and the Service its initiator addressed (`namespace/name`), and
-- destination_services_hourly keeps, per hour and workload, the egress the workload opened:
--   to a cloud service (class cloud_service), by service;
--   to a Kubernetes Service inside the cluster (a Service, an in-cluster class), by Service.
-- destinations_top_hourly lists both beside the other external destinations (country, ASN, IP),
-- each byte once: a cloud-service flow under its cloud service, no longer under AWS's country
-- and ASN. Kept 2 years like the hourly rollups. Every statement is safe to replay.
ALTER TABLE {{db}}.rollup_input ADD COLUMN IF NOT EXISTS cloud_service String AFTER cloud;
ALTER TABLE {{db}}.rollup_input ADD COLUMN IF NOT EXISTS service String AFTER cloud_service;

CREATE TABLE IF NOT EXISTS {{db}}.destination_services_hourly
(
    hour DateTime('UTC'),
    cluster LowCardinality(String),
    namespace LowCardinality(String),
    workload_kind LowCardinality(String),
    workload LowCardinality(String),
    class LowCardinality(String),
    cloud_service LowCardinality(String),
    service LowCardinality(String),
    egress_bytes UInt64,
    ingress_bytes UInt64,
    flows UInt64
)
ENGINE = SummingMergeTree
PARTITION BY toYYYYMM(hour)
ORDER BY (cluster, namespace, workload_kind, workload, hour, class, cloud_service, service)
TTL hour + INTERVAL 730 DAY
SETTINGS non_replicated_deduplication_window = 1000;

-- What flows still holds (its TTL: 14 days by default), once, while the rollup is empty (the sink
-- feeds rollup_input only after the migrations ran, so no row passes the view before this copy).
INSERT INTO {{db}}.destination_services_hourly (hour, cluster, namespace, workload_kind, workload, class, cloud_service, service, egress_bytes, ingress_bytes, flows)
SELECT toStartOfHour(time) AS hour, cluster, local_namespace, local_workload_kind, local_workload, class,
       if(class = 'cloud_service', cloud_service, '') AS cs, if(class = 'cloud_service', '', service) AS svc,
       sum(egress_bytes), sum(ingress_bytes), count()
FROM {{db}}.flows
WHERE (SELECT count() FROM {{db}}.destination_services_hourly) = 0
  AND role = 'INITIATOR'
  AND (class = 'cloud_service' OR (service != '' AND class NOT IN ('internet', 'private', 'direct')))
GROUP BY hour, cluster, local_namespace, local_workload_kind, local_workload, class, cs, svc
SETTINGS max_rows_to_group_by = 0, group_by_overflow_mode = 'throw';

CREATE MATERIALIZED VIEW IF NOT EXISTS {{db}}.destination_services_hourly_mv TO {{db}}.destination_services_hourly AS
SELECT
    toStartOfHour(time) AS hour, cluster, local_namespace AS namespace, local_workload_kind AS workload_kind, local_workload AS workload, class,
    if(class = 'cloud_service', cloud_service, '') AS cloud_service, if(class = 'cloud_service', '', service) AS service,
    sum(egress_bytes) AS egress_bytes, sum(ingress_bytes) AS ingress_bytes, sum(flows) AS flows
FROM {{db}}.rollup_input
WHERE role = 'INITIATOR' AND (class = 'cloud_service' OR (service != '' AND class NOT IN ('internet', 'private', 'direct')))
GROUP BY hour, cluster, namespace, workload_kind, workload, class, cloud_service, service;

-- 0021's view, with the cloud services and the Services: a destination is a country, ASN, port
-- and sample IP (external classes but cloud_service), a cloud service, or a Service.
CREATE OR REPLACE VIEW {{db}}.destinations_top_hourly AS
SELECT
    hour, cluster, namespace, workload_kind, workload, class, toString(remote_country) AS country, remote_asn AS asn,
    max(as_org) AS as_org, remote_port AS port, toString(min(sample_ip)) AS ip, '' AS cloud_service, '' AS service,
    sum(egress_bytes) AS egress_bytes, sum(ingress_bytes) AS ingress_bytes, sum(flows) AS flows
FROM {{db}}.destinations_hourly
WHERE class != 'cloud_service'
GROUP BY hour, cluster, namespace, workload_kind, workload, class, country, asn, port
UNION ALL
SELECT
    hour, cluster, namespace, workload_kind, workload, class, '' AS country, toUInt32(0) AS asn,
    '' AS as_org, toUInt16(0) AS port, '' AS ip, toString(cloud_service) AS cloud_service, toString(service) AS service,
    sum(egress_bytes) AS egress_bytes, sum(ingress_bytes) AS ingress_bytes, sum(flows) AS flows
FROM {{db}}.destination_services_hourly
GROUP BY hour, cluster, namespace, workload_kind, workload, class, cloud_service, service
SETTINGS max_rows_to_group_by = 0, group_by_overflow_mode = 'throw';
