export * from './types.generated.ts';
export { SchemaRegistry, DecodeError, DEFAULT_SCHEMA_DIR, messageFingerprint } from './registry.ts';
export type { Codec, DecodeFailure } from './registry.ts';
export { crc64Avro } from './crc64.ts';

/** Schema families (folders under `schemas/`). */
export const Family = {
  raw: 'raw-flow-batch',
  enriched: 'enriched-flow-batch',
  anomaly: 'anomaly-event',
} as const;

/** Kafka topics: the name carries the contract's major version. Each has a `<topic>.dlq`. */
export const Topics = {
  raw: 'flows.raw.v1',
  enriched: 'flows.enriched.v1',
  anomalies: 'egress.anomalies.v1',
} as const;

export { viewEnriched, fromViews, EnrichedBatchBuilder } from './enriched.ts';
export type { EndpointView, EnrichedFlowView, EnrichedHeader } from './enriched.ts';
