// Before a Kafka client is created: can any bootstrap broker be reached at all? Both clients
// otherwise retry a refused or silent address for a long time and log every attempt; this
// check turns a wrong TOLLGATE_KAFKA_BROKERS into one ConfigError within seconds.
import { connect } from 'node:net';
import { ConfigError } from '@tollgate/config';
import { BROKERS_SETTING, parseBroker } from './common.ts';

export interface ProbeResult {
  broker: string;
  ok: boolean;
  error?: string;
}

function probe(broker: string, timeoutMs: number): Promise<ProbeResult> {
  const { host, port } = parseBroker(broker);
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (ok: boolean, error?: string) => {
      clearTimeout(timer);
      socket.removeAllListeners();
      socket.on('error', () => {});
      socket.destroy();
      resolve(error === undefined ? { broker, ok } : { broker, ok, error });
    };
    const timer = setTimeout(() => done(false, `no answer within ${timeoutMs} ms`), timeoutMs);
    socket.once('connect', () => done(true));
    socket.once('error', (e: NodeJS.ErrnoException) => done(false, e.code ?? e.message));
  });
}

/**
 * TCP-connects to every broker in parallel. Resolves with the results when at least one
 * answers; throws a ConfigError for TOLLGATE_KAFKA_BROKERS naming the brokers otherwise.
 */
export async function checkBrokers(brokers: string[], timeoutMs = 10_000): Promise<ProbeResult[]> {
  if (brokers.length === 0) throw new ConfigError(BROKERS_SETTING, 'no Kafka broker configured');
  for (const b of brokers) parseBroker(b);
  const results = await Promise.all(brokers.map((b) => probe(b, timeoutMs)));
  if (!results.some((r) => r.ok)) {
    const detail = results.map((r) => `${r.broker} (${r.error})`).join(', ');
    throw new ConfigError(BROKERS_SETTING, `cannot reach any Kafka broker: ${detail}`);
  }
  return results;
}
