export { createAlertPublisher, ALERTS_STAGE, DEFAULT_ALERTS_GROUP, toEvent } from './publisher.ts';
export type { AlertPublisher, AlertPublisherDeps, AlertStep, AlertStats } from './publisher.ts';
export { alertsSettings, ALERTS_DEFAULTS } from './config.ts';
export type { AlertsSettings } from './config.ts';
export { alertsMetrics } from './metrics.ts';
