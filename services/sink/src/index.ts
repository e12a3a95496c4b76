export { createSink, maxMessagesPerBatch, SINK_STAGE, DEFAULT_SINK_GROUP } from './sink.ts';
export type { Sink, SinkDeps, SinkSettings, SinkStats } from './sink.ts';
