// Test helpers: a FlowRow with defaults, for other projects' tests too: `@tollgate/clickhouse/testing`
// (a testing entry point, never the production index).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ClickHouseClient } from '@clickhouse/client';
import type { Logger } from '@tollgate/log';
import { DEFAULT_MIGRATIONS_DIR, splitStatements } from './migrate.ts';
import { anomalyRows, clientQuery, type AnomalyRow, type Period } from './reports.ts';
import { FLOW_COLUMNS, ROW_FORMAT, type FlowColumns, type FlowRow } from './rows.ts';
import { openStore, type Store } from './store.ts';

export const GiB = 2 ** 30;
export const MiB = 2 ** 20;

/** The start of the current UTC hour, in Unix seconds, minus `hoursAgo` hours. */
export function hourAgo(hoursAgo: number, nowMs: number = Date.now()): number {
  return Math.floor(nowMs / 3_600_000) * 3600 - hoursAgo * 3600;
}

/** A flows row: a pod of `namespace/workload` (Deployment) talking to an external address. */
export function flowRow(p: Partial<FlowRow> = {}): FlowRow {
  return {
    time: hourAgo(1),
    cluster: 'test',
    node: 'node-a',
    conntrack_id: 1,
    protocol: 6,
    family: 'IPV4',
    role: 'INITIATOR',
    local_ip: '10.0.0.1',
    local_port: 40000,
    local_kind: 'POD',
    local_namespace: 'shop',
    local_workload_kind: 'Deployment',
    local_workload: 'web',
    local_pod: 'web-1',
    local_zone: 'us-east-1a',
    local_region: 'us-east-1',
    local_labels: {},
    remote_ip: '81.2.69.142',
    remote_port: 443,
    remote_kind: 'EXTERNAL',
    remote_namespace: '',
    remote_workload_kind: '',
    remote_workload: '',
    remote_pod: '',
    remote_node: '',
    remote_zone: '',
    remote_region: '',
    remote_country: 'GB',
    remote_asn: 20712,
    remote_as_org: 'Andrews & Arnold Ltd',
    class: 'internet',
    // A hand-made row is priced by its class unless the test says otherwise.
    priced_as: p.priced_as ?? p.class ?? 'internet',
    cloud: 'aws',
    cloud_service: '',
    cloud_service_region: '',
    service: '',
    nat_gateway: false,
    egress_bytes: 1000,
    ingress_bytes: 2000,
    egress_packets: 10,
    ingress_packets: 20,
    src_topic: 'flows.enriched.v1',
    src_partition: 0,
    src_offset: 0,
    src_agent_id: '',
    src_seq: 0,
    ...p,
  };
}

/**
 * An insert body (ROW_FORMAT, `columns` order) with `column` set to `text` in every row that
 * `pick` selects (given the row's fields as written): rows the engine itself rejects, for tests
 * of the rejection path. Other rows stay byte for byte.
 */
export function withField(body: string, columns: readonly string[], pick: (row: Readonly<Record<string, string>>) => boolean, column: string, text: string): string {
  if (ROW_FORMAT !== 'TabSeparated') throw new Error(`withField reads TabSeparated bodies, not ${ROW_FORMAT as string}`);
  const at = columns.indexOf(column);
  if (at < 0) throw new Error(`withField: no column ${column} in ${columns.join(', ')}`);
  return body
    .split('\n')
    .map((line) => {
      if (line === '') return line;
      const fields = line.split('\t');
      if (fields.length !== columns.length) throw new Error(`withField: a row of ${fields.length} fields for ${columns.length} columns`);
      if (!pick(Object.fromEntries(columns.map((c, i) => [c, fields[i]!])))) return line;
      fields[at] = text;
      return fields.join('\t');
    })
    .join('\n');
}

/**
 * Flows blocks with `column` set to `value` in every row `pick` selects (given the row's values):
 * rows the engine itself rejects, for tests of the rejection path. Other rows stay as they are.
 */
export function withColumnValue(blocks: readonly FlowColumns[], pick: (row: Readonly<Record<string, unknown>>) => boolean, column: keyof FlowRow, value: unknown): FlowColumns[] {
  return blocks.map((b) => {
    const values = { ...b.values } as unknown as Record<string, unknown[]>;
    const changed = [...values[column]!];
    for (let i = 0; i < b.rows; i++) {
      const row: Record<string, unknown> = {};
      for (const c of FLOW_COLUMNS) row[c] = values[c]![i];
      if (pick(row)) changed[i] = value;
    }
    values[column] = changed;
    return { rows: b.rows, values: values as unknown as FlowColumns['values'] };
  });
}

export { INSERT_FORMAT, loadRowsModule, type RowsModule } from './codegen.ts';

/**
 * Migrated embedded stores in one fresh chDB data directory (chDB binds one directory per
 * process), one database each; `close()` (a test file's `after`) closes them and removes it.
 */
export function embeddedStores(name: string, logger: Logger): { store(database: string): Promise<Store>; close(): Promise<void> } {
  const dataDir = mkdtempSync(join(tmpdir(), `tollgate-${name}-`));
  const open: Store[] = [];
  return {
    async store(database) {
      const s = await openStore({ url: '', user: 'default', password: '', database, dataDir }, logger);
      open.push(s);
      await s.migrate();
      return s;
    },
    async close() {
      for (const s of open) await s.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** The migrations whose anomaly views are the reference the current ones must equal (0020, with 0022's baselines). */
const REFERENCE_ANOMALY_MIGRATIONS = ['0020_anomaly_windows.sql', '0022_anomaly_baseline_windows.sql'];

/**
 * The anomaly views as migrations 0020 and 0022 defined them (window functions over every hourly
 * row of the window and its baseline), from those files' own text, each view renamed `ref_<name>`
 * (and every reference to one of them), beside the current ones: `ref_anomalies_window(from, to)`
 * is the reference a test compares `anomalies_window` with, row for row.
 */
export async function installReferenceAnomalyViews(client: ClickHouseClient, database: string, dir: string = DEFAULT_MIGRATIONS_DIR): Promise<string[]> {
  const statements = REFERENCE_ANOMALY_MIGRATIONS.flatMap((f) => splitStatements(readFileSync(join(dir, f), 'utf8'))).filter((s) => s.startsWith('CREATE OR REPLACE VIEW {{db}}.'));
  const names = [...new Set(statements.map((s) => /^CREATE OR REPLACE VIEW \{\{db\}\}\.(\w+)/.exec(s)![1]!))];
  const renamed = new RegExp(`\\{\\{db\\}\\}\\.(${names.join('|')})\\b`, 'g');
  for (const s of statements) await client.command({ query: s.replace(renamed, '{{db}}.ref_$1').replaceAll('{{db}}', `\`${database}\``) });
  return names.map((n) => `ref_${n}`);
}

/** The rows of the reference anomaly view (installReferenceAnomalyViews) for a period, as Store.anomalyRows returns them. */
export function referenceAnomalyRows(client: ClickHouseClient, database: string, opts: Period = {}): Promise<AnomalyRow[]> {
  return anomalyRows(clientQuery(client), `\`${database}\``, opts, 'ref_anomalies_window');
}

/** Anomaly rows in the order of their ids (a stable order to compare two views' rows in). */
export function byAnomalyId(rows: readonly AnomalyRow[]): AnomalyRow[] {
  return [...rows].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}
