export { defineMetrics, metricsTable } from './catalogue.ts';
export type { MetricSpec, MetricSet, MetricType, Instruments, Instrument } from './catalogue.ts';
export { stageMetrics, LATENCY_BUCKETS } from './stage.ts';
export { createRegistry, startMetricsServer } from './server.ts';
export type { MetricsServer, MetricsServerOptions, Readiness } from './server.ts';
export type { Registry } from 'prom-client';
