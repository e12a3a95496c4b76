import { loadSettings, settings } from '@tollgate/config';
import { openStore } from '@tollgate/clickhouse';
import { parseDuration, parsePositiveInt, UsageError, type OptionSpec, type Parsed } from '../args.ts';
import { buildReport, renderReport, type ReportOptions } from '../report.ts';
import type { Command } from './command.ts';

export const reportOptions: OptionSpec[] = [
  { name: 'format', type: 'string', help: 'table or json', default: 'table' },
  { name: 'top', type: 'string', help: 'Workloads to list, most expensive first', default: '10' },
  { name: 'since', type: 'string', help: 'Period to report: a duration back from now (90m, 24h, 7d) or all', default: '30d' },
];

export function reportOptionsFrom(args: Parsed, now = Date.now()): ReportOptions {
  const format = String(args.options.format);
  if (format !== 'table' && format !== 'json') throw new UsageError(`--format: '${format}' is not table or json`);
  const since = parseDuration(String(args.options.since), 'since');
  return { format, top: parsePositiveInt(String(args.options.top), 'top'), from: since === undefined ? undefined : now - since };
}

export const reportCommand: Command = {
  name: 'report',
  options: reportOptions,
  details: 'Reads the embedded store in TOLLGATE_DATA_DIR, or the server at TOLLGATE_CLICKHOUSE_URL.',
  async run(rt, args) {
    const opts = reportOptionsFrom(args);
    const store = await openStore(loadSettings(settings.clickhouse, rt.env), rt.logger.child({ component: 'clickhouse' }));
    try {
      await store.migrate();
      process.stdout.write(renderReport(await buildReport(store, opts), opts));
    } finally {
      await store.close();
    }
    return 0;
  },
};
