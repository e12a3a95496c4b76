import { sinkFromEnv } from '@tollgate/sink';
import { groupId, openTransport, serve } from '../runtime.ts';
import type { Command } from './command.ts';

export const sinkCommand: Command = {
  name: 'sink',
  options: [],
  details:
    'Settings: TOLLGATE_KAFKA_BROKERS (required), TOLLGATE_CLICKHOUSE_* or TOLLGATE_DATA_DIR (embedded), TOLLGATE_SINK_*.\n' +
    'Applies the ClickHouse migrations at start. Runs until SIGINT/SIGTERM, then finishes the chunk in hand and commits.',
  async run(rt) {
    const transport = await openTransport(rt, 'sink', true);
    try {
      const svc = await sinkFromEnv({ env: rt.env, transport, topics: rt.topics, registry: rt.registry, logger: rt.logger, metrics: rt.metrics, groupId: groupId(rt, 'sink') });
      try {
        return await serve(rt, svc.sink, async () => {});
      } finally {
        await svc.close();
      }
    } finally {
      await transport.close();
    }
  },
};
