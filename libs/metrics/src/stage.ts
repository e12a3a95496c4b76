// Metrics every Kafka-connected stage has, labelled by stage: records in and out, bytes,
// DLQ messages by reason, batch latency, consumer lag per partition, produce errors and retries.
import { defineMetrics } from './catalogue.ts';

export const LATENCY_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30] as const;

export const stageMetrics = defineMetrics('every stage', {
  tollgate_records_in_total: { type: 'counter', help: 'Records (flows) a stage received.', labels: ['stage'] },
  tollgate_records_out_total: { type: 'counter', help: 'Records (flows or rows) a stage passed on.', labels: ['stage'] },
  tollgate_bytes_total: { type: 'counter', help: 'Flow bytes (orig + reply) a stage passed on.', labels: ['stage'] },
  tollgate_messages_in_total: { type: 'counter', help: 'Kafka messages a stage consumed.', labels: ['stage'] },
  tollgate_dlq_messages_total: { type: 'counter', help: 'Messages sent to the dead-letter topic, by reason.', labels: ['stage', 'reason'] },
  tollgate_batch_seconds: { type: 'histogram', help: 'Time to process one batch (consume to commit), seconds.', labels: ['stage'], buckets: LATENCY_BUCKETS },
  tollgate_consumer_lag: { type: 'gauge', help: 'Messages behind the end of each partition (last seen).', labels: ['stage', 'topic', 'partition'] },
  tollgate_produce_errors_total: { type: 'counter', help: 'Produce requests that failed (before any retry).', labels: ['stage'] },
  tollgate_produce_retries_total: { type: 'counter', help: 'Produce retries.', labels: ['stage'] },
});
