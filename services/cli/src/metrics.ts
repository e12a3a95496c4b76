// Every metric a Tollgate process can expose, from the declarations of the stages: the README's
// metrics table is generated from this list (`npm run docs:metrics`) and a test keeps them equal.
import { metricsTable, stageMetrics, type MetricSet, type MetricSpec } from '@tollgate/metrics';
import { agentMetrics } from '@tollgate/agent';
import { alertsMetrics } from '@tollgate/alerts';
import { enricherMetrics } from '@tollgate/enricher';
import { sinkMetrics } from '@tollgate/sink';

export const allMetricSets: readonly MetricSet<Record<string, MetricSpec>>[] = [stageMetrics, agentMetrics, enricherMetrics, sinkMetrics, alertsMetrics];

export const allMetricsTable = (): string => metricsTable(allMetricSets);
