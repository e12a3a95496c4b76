export { createKafkaTransport, kafkaClients, kafkaClientModules } from './transport.ts';
export type { KafkaClientName, KafkaTransportOptions } from './transport.ts';
export { checkBrokers } from './reachability.ts';
export type { ProbeResult } from './reachability.ts';
export { chunkBySize, parseBroker, BROKERS_SETTING } from './common.ts';
export { defaultTuning } from './common.ts';
export type { TransportTuning } from './common.ts';
