// What every command shares: settings parsed once, the root logger, the schema registry, and
// the transport (Kafka when brokers are configured, else the in-process transport).
import { hostname } from 'node:os';
import { loadSettings, settings, ConfigError, type Env } from '@tollgate/config';
import { createLogger, type Logger } from '@tollgate/log';
import { SchemaRegistry } from '@tollgate/schema';
import { createRegistry, startMetricsServer, type Readiness, type Registry } from '@tollgate/metrics';
import { MemoryTransport, allTopics, topicNames, type TopicNames, type Transport } from '@tollgate/pipeline';

export interface Runtime {
  env: Env;
  logger: Logger;
  registry: SchemaRegistry;
  common: ReturnType<typeof loadCommon>;
  kafka: ReturnType<typeof loadKafka>;
  topics: TopicNames;
  /** The process's Prometheus registry (process metrics plus what each stage registers). */
  metrics: Registry;
  metricsSettings: ReturnType<typeof loadMetrics>;
}

const loadCommon = (env: Env) => loadSettings(settings.common, env);
const loadKafka = (env: Env) => loadSettings(settings.kafka, env);
const loadMetrics = (env: Env) => loadSettings(settings.metrics, env);

export function createRuntime(env: Env, opts: { logLevel?: string } = {}): Runtime {
  const common = loadCommon(env);
  const kafka = loadKafka(env);
  const metricsSettings = loadMetrics(env);
  const level = (opts.logLevel ?? common.logLevel) as typeof common.logLevel;
  return { env, logger: createLogger(level), registry: SchemaRegistry.load(), common, kafka, topics: topicNames(kafka.topicPrefix), metrics: createRegistry({ cluster: common.cluster }), metricsSettings };
}

/** Kafka if TOLLGATE_KAFKA_BROKERS is set; `required` services refuse to run without it. */
export async function openTransport(rt: Runtime, role: string, required: boolean): Promise<Transport> {
  if (rt.kafka.brokers.length === 0) {
    if (required) throw new ConfigError('TOLLGATE_KAFKA_BROKERS', `is empty; the ${role} needs a Kafka broker (host:port)`);
    const t = new MemoryTransport();
    await t.ensureTopics(allTopics(rt.topics), rt.kafka.partitions);
    return t;
  }
  const { createKafkaTransport } = await import('@tollgate/kafka');
  const t = await createKafkaTransport({
    brokers: rt.kafka.brokers,
    client: rt.kafka.client,
    clientId: `${rt.kafka.clientId}-${role}-${hostname()}`,
    logger: rt.logger.child({ component: `kafka-${role}` }),
  });
  await t.ensureTopics(allTopics(rt.topics), rt.kafka.partitions);
  return t;
}

/** Resolves on SIGINT/SIGTERM (once), so a service can stop gracefully and flush. */
export function untilSignal(logger: Logger): Promise<string> {
  return new Promise((resolve) => {
    const on = (sig: string) => {
      logger.info({ signal: sig }, 'stopping');
      process.off('SIGINT', on);
      process.off('SIGTERM', on);
      resolve(sig);
    };
    process.on('SIGINT', on);
    process.on('SIGTERM', on);
  });
}

/** Consumer group of a role; a topic prefix isolates groups as it isolates topics. */
export function groupId(rt: Runtime, role: 'enricher' | 'sink'): string {
  return rt.kafka.topicPrefix ? `${rt.kafka.topicPrefix}.tollgate-${role}` : `tollgate-${role}`;
}

/**
 * Runs a long-lived service until a signal (graceful stop) or its failure. The metrics endpoint
 * (TOLLGATE_METRICS_PORT, unless 0) starts first, so /healthz answers while the stage connects;
 * /readyz follows the stage's readiness.
 */
export async function serve(
  rt: Runtime,
  component: { start(): Promise<void>; stop(): Promise<void>; done: Promise<void> } & Partial<Readiness>,
  cleanup: () => Promise<void>,
): Promise<number> {
  let started = false;
  const readiness: Readiness = { ready: () => (!started ? 'starting' : component.ready ? component.ready() : true) };
  const endpoint =
    rt.metricsSettings.port > 0
      ? await startMetricsServer({ port: rt.metricsSettings.port, host: rt.metricsSettings.host, registry: rt.metrics, readiness })
      : undefined;
  if (endpoint) rt.logger.info({ port: endpoint.port }, 'metrics endpoint listening (/metrics, /healthz, /readyz)');
  try {
    await component.start();
  } catch (err) {
    await endpoint?.stop();
    throw err;
  }
  started = true;
  rt.logger.info('started');
  let failed: unknown;
  await Promise.race([untilSignal(rt.logger), component.done.catch((e: unknown) => (failed = e))]);
  await component.stop().catch((e: unknown) => (failed ??= e));
  await cleanup();
  await endpoint?.stop();
  if (failed) {
    rt.logger.error({ err: failed instanceof Error ? failed.message : String(failed) }, 'stopped on an error');
    return 1;
  }
  return 0;
}
