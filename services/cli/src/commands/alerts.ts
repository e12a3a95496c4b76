import { loadSettings, settings } from '@tollgate/config';
import { componentLogger } from '@tollgate/log';
import { openStore } from '@tollgate/clickhouse';
import { alertsSettings, createAlertPublisher, DEFAULT_ALERTS_GROUP } from '@tollgate/alerts';
import { parseDuration, UsageError, type OptionSpec, type Parsed } from '../args.ts';
import { openTransport, serve } from '../runtime.ts';
import type { Command } from './command.ts';

const options: OptionSpec[] = [
  { name: 'once', type: 'boolean', help: 'One round (publish what is new), then exit.' },
  { name: 'since', type: 'string', help: 'Hours judged each round: a duration back from the current hour (e.g. 48h, 7d)', default: '48h' },
  { name: 'interval', type: 'string', help: 'Pause between rounds (e.g. 60s, 5m)', default: '60s' },
];

function parse(args: Parsed) {
  const lookbackMs = parseDuration(String(args.options.since), 'since');
  if (lookbackMs === undefined) throw new UsageError('--since: give a duration (e.g. 48h)');
  const intervalMs = args.options.once ? 0 : parseDuration(String(args.options.interval), 'interval');
  if (intervalMs === undefined || (!args.options.once && intervalMs === 0)) throw new UsageError('--interval: give a duration above 0 (or --once)');
  try {
    return alertsSettings({ lookbackMs, intervalMs });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

export const alertsCommand: Command = {
  name: 'alerts',
  options,
  details:
    'Settings: TOLLGATE_KAFKA_BROKERS (required), TOLLGATE_CLICKHOUSE_* or TOLLGATE_DATA_DIR (embedded), TOLLGATE_TOPIC_PREFIX.\n' +
    'Publishes each new anomaly once to egress.anomalies.v1 (Avro, schemas/anomaly-event), across restarts. Run one at a time.',
  async run(rt, args) {
    const alerts = parse(args);
    const transport = await openTransport(rt, 'alerts', true);
    try {
      const store = await openStore(loadSettings(settings.clickhouse, rt.env), componentLogger(rt.logger, 'clickhouse'));
      try {
        await store.migrate();
        const publisher = createAlertPublisher({
          transport,
          store,
          topics: rt.topics,
          registry: rt.registry,
          settings: alerts,
          groupId: rt.kafka.topicPrefix ? `${rt.kafka.topicPrefix}.${DEFAULT_ALERTS_GROUP}` : DEFAULT_ALERTS_GROUP,
          logger: componentLogger(rt.logger, 'alerts'),
          metrics: rt.metrics,
        });
        if (alerts.intervalMs === 0) {
          await publisher.start();
          try {
            await publisher.done;
          } finally {
            await publisher.stop();
          }
          const s = publisher.stats();
          process.stdout.write(`published ${s.published} anomalies\n`);
          return 0;
        }
        return await serve(rt, publisher, async () => {});
      } finally {
        await store.close();
      }
    } finally {
      await transport.close();
    }
  },
};
