export { createSink, maxMessagesPerBatch, SINK_STAGE, DEFAULT_SINK_GROUP } from './sink.ts';
export type { Sink, SinkDeps, SinkSettings, SinkStats } from './sink.ts';
export { loadSinkConfig, validateSinkConfig } from './config.ts';
export type { SinkConfig } from './config.ts';
export { sinkFromEnv } from './factory.ts';
export type { SinkService } from './factory.ts';
export { sinkMetrics } from './metrics.ts';
export { validateEnriched } from './validate.ts';
