import { loadSettings, settings } from '@tollgate/config';
import { componentLogger } from '@tollgate/log';
import { openStore } from '@tollgate/clickhouse';
import { createSink } from '@tollgate/sink';
import { groupId, openTransport, serve } from '../runtime.ts';
import type { Command } from './command.ts';

export const sinkCommand: Command = {
  name: 'sink',
  options: [],
  details:
    'Settings: TOLLGATE_KAFKA_BROKERS (required), TOLLGATE_CLICKHOUSE_* or TOLLGATE_DATA_DIR (embedded), TOLLGATE_SINK_*.\n' +
    'Applies the ClickHouse migrations at start. Runs until SIGINT/SIGTERM, then finishes the insert in hand and commits.',
  async run(rt) {
    const sinkSettings = loadSettings(settings.sink, rt.env);
    const chSettings = loadSettings(settings.clickhouse, rt.env);
    const transport = await openTransport(rt, 'sink', true);
    try {
      const store = await openStore(chSettings, componentLogger(rt.logger, 'clickhouse'));
      try {
        await store.migrate();
        const sink = createSink({
          transport,
          store,
          topics: rt.topics,
          settings: sinkSettings,
          groupId: groupId(rt, 'sink'),
          logger: componentLogger(rt.logger, 'sink'),
          registry: rt.registry,
        });
        return await serve(rt, sink, async () => {});
      } finally {
        await store.close();
      }
    } finally {
      await transport.close();
    }
  },
};
