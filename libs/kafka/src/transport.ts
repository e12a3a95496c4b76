// createKafkaTransport: the Transport of @tollgate/pipeline on a real Kafka cluster, with
// either client library (TOLLGATE_KAFKA_CLIENT). Construction checks the brokers first, so a
// wrong TOLLGATE_KAFKA_BROKERS is one ConfigError within seconds, not a retry loop.
import { ConfigError } from '@tollgate/config';
import type { Logger } from '@tollgate/log';
import type { Transport } from '@tollgate/pipeline';
import { BROKERS_SETTING, defaultTuning, describeError, withTimeout, type TransportTuning } from './common.ts';
import { checkBrokers } from './reachability.ts';

export type KafkaClientName = 'platformatic' | 'kafkajs';
export const kafkaClients: readonly KafkaClientName[] = ['platformatic', 'kafkajs'];

type KafkaTransport = Transport & { ping(): Promise<void> };
type TransportClass = new (brokers: string[], clientId: string, logger: Logger, tuning: TransportTuning) => KafkaTransport;

/**
 * Each client's adapter, loaded only when chosen: each is tens of MB of code and heap (the agent
 * runs on every node). What fills a compile cache ahead of time (the image, the benchmark) loads
 * them all through this, so a process never strips their TypeScript at run time.
 */
export const kafkaClientModules: Readonly<Record<KafkaClientName, () => Promise<TransportClass>>> = {
  platformatic: async () => (await import('./platformatic.ts')).PlatformaticTransport,
  kafkajs: async () => (await import('./kafkajs.ts')).KafkajsTransport,
};

export interface KafkaTransportOptions {
  brokers: string[];
  client: KafkaClientName;
  /** Prefix of every client id (TOLLGATE_KAFKA_CLIENT_ID). */
  clientId: string;
  logger: Logger;
  /** Request and fetch sizes; the defaults suit Tollgate's 30-60 KB messages. */
  tuning?: Partial<TransportTuning>;
  /** How long the broker check may take, ms (default 10 000). */
  connectTimeoutMs?: number;
}

export async function createKafkaTransport(opts: KafkaTransportOptions): Promise<Transport> {
  const timeout = opts.connectTimeoutMs ?? 10_000;
  const probes = await checkBrokers(opts.brokers, Math.min(timeout, 10_000));
  const down = probes.filter((p) => !p.ok);
  if (down.length > 0) opts.logger.warn({ brokers: down.map((p) => `${p.broker} (${p.error})`) }, 'some Kafka brokers cannot be reached');
  const tuning = { ...defaultTuning, ...opts.tuning };
  const transport = new (await kafkaClientModules[opts.client]())(opts.brokers, opts.clientId, opts.logger, tuning);
  try {
    await withTimeout(transport.ping(), timeout, `no Kafka answer within ${timeout} ms`);
  } catch (err) {
    // A client stuck on a silent address may not close promptly; the error matters more.
    await withTimeout(transport.close(), 2_000, 'close').catch(() => {});
    throw new ConfigError(BROKERS_SETTING, `cannot talk to Kafka at ${opts.brokers.join(', ')}: ${describeError(err)}`);
  }
  opts.logger.debug({ brokers: opts.brokers, client: opts.client }, 'kafka transport ready');
  return transport;
}
