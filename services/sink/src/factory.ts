// Builds the production sink from settings and its dependencies: the store (a ClickHouse
// server or embedded chDB, migrated), then the stage. The CLI command only calls this.
import { loadSettings, settings, type Env } from '@tollgate/config';
import { openStore, type Store } from '@tollgate/clickhouse';
import { componentLogger, type Logger } from '@tollgate/log';
import type { Registry } from '@tollgate/metrics';
import type { TopicNames, Transport } from '@tollgate/pipeline';
import type { SchemaRegistry } from '@tollgate/schema';
import { loadSinkConfig } from './config.ts';
import { createSink, type Sink } from './sink.ts';

export interface SinkService {
  sink: Sink;
  store: Store;
  /** Closes the store (after the sink stopped). */
  close(): Promise<void>;
}

export async function sinkFromEnv(deps: {
  env: Env;
  transport: Transport;
  topics: TopicNames;
  registry: SchemaRegistry;
  logger: Logger;
  metrics?: Registry;
  groupId?: string;
}): Promise<SinkService> {
  const config = loadSinkConfig(deps.env);
  const chSettings = loadSettings(settings.clickhouse, deps.env);
  const store = await openStore(chSettings, componentLogger(deps.logger, 'clickhouse'));
  try {
    await store.migrate();
  } catch (err) {
    await store.close();
    throw err;
  }
  const sink = createSink({
    transport: deps.transport,
    store,
    topics: deps.topics,
    settings: config,
    groupId: deps.groupId,
    logger: componentLogger(deps.logger, 'sink'),
    registry: deps.registry,
    metrics: deps.metrics,
  });
  return { sink, store, close: () => store.close() };
}
