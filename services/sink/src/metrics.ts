// The sink's own metrics (beside stageMetrics, labelled stage="sink").
import { defineMetrics, LATENCY_BUCKETS } from '@tollgate/metrics';

export const sinkMetrics = defineMetrics('sink', {
  tollgate_sink_rows_inserted_total: { type: 'counter', help: 'Rows stored in flows (and fed to the rollups), by chunk.' },
  tollgate_sink_chunks_total: { type: 'counter', help: 'Chunks stored (ledger intent, flows, rollups, done).' },
  tollgate_sink_insert_seconds: { type: 'histogram', help: 'Time to store one chunk (ledger, flows insert, rollup feed), seconds.', buckets: LATENCY_BUCKETS },
  tollgate_sink_chunks_replayed_total: { type: 'counter', help: 'Interrupted chunks found at a (re)start and stored again with their boundaries.' },
  tollgate_sink_insert_retries_total: { type: 'counter', help: 'ClickHouse requests retried after a retriable error (same deduplication token).' },
  tollgate_sink_insert_failures_total: { type: 'counter', help: 'Chunks whose store failed past the retries, or was fenced (the sink stops).' },
  tollgate_sink_resent_batches_total: { type: 'counter', help: 'Messages dropped as a second copy of an agent batch (same agent_id and seq, sent again after the agent crashed).' },
  tollgate_sink_rejected_messages_total: { type: 'counter', help: 'Messages ClickHouse rejected (sent to the DLQ).' },
});
