import { loadSettings, settings } from '@tollgate/config';
import { appliedMigrations, clientQuery, loadMigrations, DEFAULT_MIGRATIONS_DIR, openStore, type Store } from '@tollgate/clickhouse';
import { parseDuration, parsePositiveInt, UsageError, type OptionSpec, type Parsed } from '../args.ts';
import { buildReport, renderReport, type ReportOptions } from '../report.ts';
import type { Command } from './command.ts';

export const reportOptions: OptionSpec[] = [
  { name: 'format', type: 'string', help: 'table, json or csv (csv: the cost per workload and class)', default: 'table' },
  { name: 'top', type: 'string', help: 'Workloads to list, most expensive first', default: '10' },
  { name: 'since', type: 'string', help: 'Start of the period: a duration back from now (90m, 24h, 7d), an ISO time, or all', default: '30d' },
  { name: 'until', type: 'string', help: 'End of the period (exclusive): a duration back from now, an ISO time, or now', default: 'now' },
  { name: 'cluster', type: 'string', help: 'Only this cluster', default: '' },
  { name: 'namespace', type: 'string', help: 'Only this namespace', default: '' },
  { name: 'by', type: 'string', help: 'workload, or label:<key> to add the cost per value of a chargeback label (csv: that table)', default: 'workload' },
];

/** A point in time: a duration back from now (24h), an ISO time, or `all` / `now` (undefined). */
function instant(v: string, option: string, now: number): number | undefined {
  if (v === 'all' || v === 'now') return undefined;
  if (/^\d{4}-\d{2}-\d{2}/.test(v)) {
    const t = Date.parse(v.length === 10 ? `${v}T00:00:00Z` : v);
    if (Number.isNaN(t)) throw new UsageError(`--${option}: '${v}' is not an ISO time`);
    return t;
  }
  return now - parseDuration(v, option)!;
}

export function reportOptionsFrom(args: Parsed, now = Date.now()): ReportOptions {
  const format = String(args.options.format);
  if (format !== 'table' && format !== 'json' && format !== 'csv') throw new UsageError(`--format: '${format}' is not table, json or csv`);
  const from = instant(String(args.options.since ?? '30d'), 'since', now);
  const to = instant(String(args.options.until ?? 'now'), 'until', now);
  if (from !== undefined && to !== undefined && to <= from) throw new UsageError('--until must be after --since');
  const by = String(args.options.by ?? 'workload');
  const label = /^label:(.+)$/.exec(by)?.[1];
  if (by !== 'workload' && !label) throw new UsageError(`--by: '${by}' is not workload or label:<key>`);
  return {
    byLabel: label,
    format,
    top: parsePositiveInt(String(args.options.top), 'top'),
    from,
    to,
    cluster: String(args.options.cluster ?? ''),
    namespace: String(args.options.namespace ?? ''),
  };
}

/** A read command never migrates: it refuses a store that lacks migrations this version needs. */
export async function checkSchema(store: Store): Promise<void> {
  const want = loadMigrations(DEFAULT_MIGRATIONS_DIR, store.database).map((m) => m.name);
  let have: string[] = [];
  try {
    have = await appliedMigrations(clientQuery(store.client), `\`${store.database}\``);
  } catch {
    // no schema_migrations table: nothing applied
  }
  const missing = want.filter((m) => !have.includes(m));
  if (missing.length > 0) {
    throw new Error(`the store lacks migrations ${missing.join(', ')} (database ${store.database}); run \`tollgate migrate\`, or start the sink, which applies them`);
  }
}

export const reportCommand: Command = {
  name: 'report',
  options: reportOptions,
  details: 'Reads the embedded store in TOLLGATE_DATA_DIR, or the server at TOLLGATE_CLICKHOUSE_URL. Never writes (run `tollgate migrate` first on a new store).',
  async run(rt, args) {
    const opts = reportOptionsFrom(args);
    const store = await openStore(loadSettings(settings.clickhouse, rt.env), rt.logger.child({ component: 'clickhouse' }));
    try {
      await checkSchema(store);
      process.stdout.write(renderReport(await buildReport(store, opts), opts));
    } finally {
      await store.close();
    }
    return 0;
  },
};
