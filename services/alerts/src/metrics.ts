import { defineMetrics } from '@tollgate/metrics';

export const alertsMetrics = defineMetrics('alerts', {
  tollgate_alerts_published_total: { type: 'counter', help: 'Anomaly events produced to egress.anomalies.v1 (acknowledged by the broker).', labels: ['rule', 'severity'] },
  tollgate_alerts_recorded_total: { type: 'counter', help: 'Events read back from the topic into the ClickHouse ledger (alerts_published).' },
  tollgate_alerts_unreadable_total: { type: 'counter', help: 'Messages on the anomalies topic that do not decode as AnomalyEvent (skipped by the ledger).' },
  tollgate_alerts_rounds_total: { type: 'counter', help: 'Publishing rounds completed.' },
  tollgate_alerts_pending: { type: 'gauge', help: 'Anomalies found unpublished at the start of the last round.' },
});
