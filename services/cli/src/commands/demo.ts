// `tollgate demo`: the simulated cluster through agent, enricher and sink into the embedded
// ClickHouse (through Kafka when TOLLGATE_KAFKA_BROKERS is set, else connected in one process),
// then the report.
import { ConfigError, loadSettings, settings } from '@tollgate/config';
import { componentLogger } from '@tollgate/log';
import { openStore } from '@tollgate/clickhouse';
import type { Transport } from '@tollgate/pipeline';
import { parsePositiveInt, type OptionSpec } from '../args.ts';
import { openTransport } from '../runtime.ts';
import { scenarioFromEnv } from '../sim.ts';
import { runSimPipeline } from '../pipeline.ts';
import { buildReport, renderReport } from '../report.ts';
import { count } from '../table.ts';
import { reportOptions, reportOptionsFrom } from './report.ts';
import type { Command } from './command.ts';

const options: OptionSpec[] = [
  ...reportOptions.filter((o) => o.name !== 'since'),
  { name: 'seed', type: 'string', help: 'Seed of the simulated cluster (overrides TOLLGATE_SIM_SEED)' },
  { name: 'days', type: 'string', help: 'Simulated days (overrides TOLLGATE_SIM_DAYS)' },
  { name: 'quiet', type: 'boolean', help: 'No progress lines' },
];

export const demoCommand: Command = {
  name: 'demo',
  options,
  details:
    'The store (TOLLGATE_DATA_DIR, default .tollgate/chdb) stays afterwards, so `tollgate report` shows the same numbers.\n' +
    'The demo replaces what an earlier demo stored there; it refuses a store that holds other clusters.',
  async run(rt, args) {
    const env = { ...rt.env };
    if (args.options.seed !== undefined) env.TOLLGATE_SIM_SEED = String(parsePositiveInt(String(args.options.seed), 'seed'));
    if (args.options.days !== undefined) env.TOLLGATE_SIM_DAYS = String(parsePositiveInt(String(args.options.days), 'days'));
    const reportOpts = reportOptionsFrom({ ...args, options: { ...args.options, since: 'all' } });
    const quiet = Boolean(args.options.quiet);
    const say = (s: string) => quiet || process.stderr.write(`${s}\n`);

    const t0 = performance.now();
    const scenario = scenarioFromEnv(env);
    const ch = loadSettings(settings.clickhouse, env);
    const store = await openStore(ch, componentLogger(rt.logger, 'clickhouse'));
    let transport: Transport | undefined;
    try {
      await store.migrate();
      const clusters = await store.clusters();
      const others = clusters.filter((c) => c !== scenario.cluster);
      if (others.length > 0) {
        throw new ConfigError(
          ch.url ? 'TOLLGATE_CLICKHOUSE_DATABASE' : 'TOLLGATE_DATA_DIR',
          `the store holds traffic of other clusters (${others.join(', ')}); the demo only replaces its own data. Point it at another store.`,
        );
      }
      if (clusters.length > 0) {
        say(`demo: replacing the previous demo's data in ${ch.url ? ch.database : ch.dataDir}`);
        await store.truncateTraffic();
      }
      transport = await openTransport(rt, 'demo', false);
      say(
        `demo: simulated cluster '${scenario.cluster}' (seed ${scenario.seed}): ${scenario.nodes.length} nodes, ${scenario.days} days from ` +
          `${new Date(scenario.start).toISOString().slice(0, 10)}; transport: ${transport.name}; store: ${ch.url ? ch.url : ch.dataDir}`,
      );
      const result = await runSimPipeline({
        rt,
        env,
        scenario,
        transport,
        store,
        onProgress: (p) => {
          const day = p.tick ? Math.min(scenario.days, Math.floor((p.tick - scenario.start) / 86_400_000) + 1) : 0;
          say(`demo: day ${day}/${scenario.days} · agents ${count(p.flows)} flows · enricher ${count(p.records)} records · sink ${count(p.rows)} rows stored`);
        },
      });
      const { sink: s, enricher: e } = result;
      say(
        `demo: done in ${((performance.now() - t0) / 1000).toFixed(1)} s: ${count(result.flows)} flows -> ${count(e.records)} records -> ` +
          `${count(s.rows)} rows in ${count(s.inserts)} inserts (DLQ: ${e.dlq + s.dlq})\n`,
      );
      process.stdout.write(renderReport(await buildReport(store, reportOpts), reportOpts));
      if (!ch.url) say(`\nThe store stays in ${ch.dataDir}: \`npx tollgate report\` shows these numbers again (--format json for machines).`);
      return 0;
    } finally {
      await transport?.close();
      await store.close();
    }
  },
};
