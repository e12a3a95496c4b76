// The Superset bundle (the v1 import format: one root folder with metadata.yaml, databases/,
// datasets/, charts/, dashboards/), built from the definitions below. Two dashboards, "Egress cost"
// and "Anomalous destinations", on the ClickHouse views of infra/clickhouse.
// infra/superset/bundle.ts writes it; infra/superset/dashboards.sh imports it into Superset (by hand,
// on an embedded store or a server, and in docker-compose.yml against the compose ClickHouse server).
//
// The bundles for a store and for a server differ in the database's URI only (supersetUri): the
// same datasets, charts and dashboards. A server's password is never in the bundle: Superset reads
// it from TOLLGATE_CLICKHOUSE_PASSWORD at query time (infra/superset/superset_config.py).
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { crc32 } from 'node:zlib';
import { stringify as yamlStringify } from 'yaml';

// Every string quoted: PyYAML would read an unquoted ISO time as a datetime (the import expects a string).
const stringify = (v: unknown): string => yamlStringify(v, { defaultStringType: 'QUOTE_SINGLE', defaultKeyType: 'PLAIN' });

/** A stable UUID from a name (so re-importing a bundle updates, never duplicates). */
export function uuidOf(name: string): string {
  const h = createHash('sha1').update(`tollgate/superset/${name}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

interface Column {
  name: string;
  type: string;
  dttm?: boolean;
}
export interface DatasetDef {
  table: string;
  dttm: string;
  columns: Column[];
  /** name -> SQL expression */
  metrics: Record<string, string>;
}
export interface ChartDef {
  name: string;
  dataset: string;
  viz: string;
  /** The explore form data (without datasource and viz_type). */
  params: Record<string, unknown>;
  /** The data query the chart runs (columns and metrics), saved as its query_context. */
  query: { columns: string[]; metrics: string[]; filters?: Array<{ col: string; op: string; val: unknown }>; orderby?: Array<[string, boolean]>; row_limit?: number };
}
export interface DashboardDef {
  title: string;
  slug: string;
  /** Rows of chart names, each row's widths summing to at most 12. */
  rows: Array<Array<[string, number]>>;
}

const str = (...names: string[]): Column[] => names.map((name) => ({ name, type: 'String' }));
const num = (type: string, ...names: string[]): Column[] => names.map((name) => ({ name, type }));

export const DATASETS: DatasetDef[] = [
  {
    table: 'workload_cost_daily',
    dttm: 'day',
    columns: [
      { name: 'day', type: 'Date', dttm: true },
      ...str('cluster', 'namespace', 'workload_kind', 'workload', 'class', 'cloud', 'region'),
      ...num('UInt64', 'egress_bytes', 'ingress_bytes', 'flows'),
      ...num('Float64', 'egress_usd', 'ingress_usd', 'nat_usd', 'total_usd'),
    ],
    metrics: { usd: 'SUM(total_usd)', nat_usd: 'SUM(nat_usd)', egress_gib: 'SUM(egress_bytes) / 1073741824' },
  },
  {
    table: 'destinations_top_hourly',
    dttm: 'hour',
    columns: [
      { name: 'hour', type: 'DateTime', dttm: true },
      ...str('cluster', 'namespace', 'workload_kind', 'workload', 'class', 'country', 'as_org', 'ip', 'cloud_service', 'service'),
      ...num('UInt32', 'asn'),
      ...num('UInt16', 'port'),
      ...num('UInt64', 'egress_bytes', 'ingress_bytes', 'flows'),
    ],
    metrics: { egress_bytes: 'SUM(egress_bytes)' },
  },
  {
    table: 'anomalies',
    dttm: 'window_start',
    columns: [
      { name: 'window_start', type: 'DateTime', dttm: true },
      { name: 'window_end', type: 'DateTime', dttm: true },
      ...str('cluster', 'namespace', 'workload_kind', 'workload', 'rule', 'country', 'ip', 'severity', 'id'),
      ...num('UInt32', 'asn'),
      ...num('UInt16', 'port'),
      ...num('UInt64', 'bytes', 'baseline_bytes'),
      ...num('Float64', 'score'),
    ],
    metrics: { bytes: 'SUM(bytes)', anomalies: 'COUNT(*)' },
  },
];

const NO_FILTER = { time_range: 'No filter', adhoc_filters: [] };
const internetOnly = [{ clause: 'WHERE', expressionType: 'SIMPLE', subject: 'class', operator: '==', comparator: 'internet' }];

export const CHARTS: ChartDef[] = [
  {
    name: 'Cost per day by namespace and class',
    dataset: 'workload_cost_daily',
    viz: 'echarts_timeseries_bar',
    params: { ...NO_FILTER, x_axis: 'day', time_grain_sqla: 'P1D', metrics: ['usd'], groupby: ['namespace', 'class'], stack: 'Stack', row_limit: 10000, y_axis_format: '$,.4f', show_legend: true },
    query: { columns: ['day', 'namespace', 'class'], metrics: ['usd'], row_limit: 10000 },
  },
  {
    name: 'Top workloads by cost',
    dataset: 'workload_cost_daily',
    viz: 'table',
    params: { ...NO_FILTER, query_mode: 'aggregate', groupby: ['cluster', 'namespace', 'workload_kind', 'workload'], metrics: ['usd', 'nat_usd', 'egress_gib'], timeseries_limit_metric: 'usd', order_desc: true, row_limit: 10 },
    query: { columns: ['cluster', 'namespace', 'workload_kind', 'workload'], metrics: ['usd', 'nat_usd'], orderby: [['usd', false]], row_limit: 10 },
  },
  {
    name: 'Cost by traffic class (cross-zone share)',
    dataset: 'workload_cost_daily',
    viz: 'pie',
    params: { ...NO_FILTER, groupby: ['class'], metric: 'usd', show_labels: true, label_type: 'key_percent', number_format: '$,.4f', row_limit: 100 },
    query: { columns: ['class'], metrics: ['usd'], row_limit: 100 },
  },
  {
    name: 'Internet egress by country',
    dataset: 'destinations_top_hourly',
    viz: 'world_map',
    params: { ...NO_FILTER, adhoc_filters: internetOnly, entity: 'country', country_fieldtype: 'cca2', metric: 'egress_bytes', show_bubbles: true, row_limit: 1000 },
    query: { columns: ['country'], metrics: ['egress_bytes'], filters: [{ col: 'class', op: '==', val: 'internet' }], row_limit: 1000 },
  },
  {
    name: 'Anomalies',
    dataset: 'anomalies',
    viz: 'table',
    params: {
      ...NO_FILTER,
      query_mode: 'raw',
      all_columns: ['window_start', 'severity', 'rule', 'namespace', 'workload_kind', 'workload', 'country', 'asn', 'ip', 'port', 'bytes', 'baseline_bytes', 'score'],
      order_by_cols: ['["window_start", false]'],
      row_limit: 1000,
    },
    query: { columns: ['window_start', 'severity', 'rule', 'namespace', 'workload_kind', 'workload', 'country', 'asn', 'ip', 'port', 'bytes'], metrics: [], row_limit: 1000 },
  },
  {
    name: 'Anomalous volume by rule',
    dataset: 'anomalies',
    viz: 'echarts_timeseries_bar',
    params: { ...NO_FILTER, x_axis: 'window_start', time_grain_sqla: 'PT1H', metrics: ['bytes'], groupby: ['rule'], stack: 'Stack', row_limit: 10000, y_axis_format: 'SMART_NUMBER' },
    query: { columns: ['window_start', 'rule'], metrics: ['bytes'], row_limit: 10000 },
  },
];

export const DASHBOARDS: DashboardDef[] = [
  {
    title: 'Egress cost',
    slug: 'tollgate-egress-cost',
    rows: [
      [['Cost per day by namespace and class', 12]],
      [['Top workloads by cost', 7], ['Cost by traffic class (cross-zone share)', 5]],
      [['Internet egress by country', 12]],
    ],
  },
  {
    title: 'Anomalous destinations',
    slug: 'tollgate-anomalies',
    rows: [[['Anomalous volume by rule', 12]], [['Anomalies', 12]]],
  },
];

const fileName = (s: string) => s.toLowerCase().replace(/[^a-z0-9]+/g, '_').replace(/^_|_$/g, '');

/** The bundle's files: path (under the root folder) -> YAML text. */
export function bundleFiles(sqlalchemyUri: string, database = 'tollgate'): Map<string, string> {
  const files = new Map<string, string>();
  const dbUuid = uuidOf('database');
  files.set('metadata.yaml', stringify({ version: '1.0.0', type: 'Dashboard', timestamp: '2026-01-01T00:00:00+00:00' }));
  files.set(
    'databases/Tollgate.yaml',
    stringify({ database_name: 'Tollgate', sqlalchemy_uri: sqlalchemyUri, cache_timeout: null, expose_in_sqllab: true, allow_run_async: false, allow_ctas: false, allow_cvas: false, allow_dml: false, allow_csv_upload: false, extra: {}, uuid: dbUuid, version: '1.0.0' }),
  );
  for (const d of DATASETS) {
    files.set(
      `datasets/Tollgate/${d.table}.yaml`,
      stringify({
        table_name: d.table,
        main_dttm_col: d.dttm,
        description: null,
        default_endpoint: null,
        offset: 0,
        cache_timeout: null,
        schema: database,
        sql: null,
        params: null,
        template_params: null,
        filter_select_enabled: true,
        fetch_values_predicate: null,
        extra: null,
        normalize_columns: false,
        always_filter_main_dttm: false,
        uuid: uuidOf(`dataset/${d.table}`),
        metrics: Object.entries(d.metrics).map(([metric_name, expression]) => ({ metric_name, verbose_name: null, metric_type: null, expression, description: null, d3format: null, currency: null, extra: {}, warning_text: null })),
        columns: d.columns.map((c) => ({ column_name: c.name, verbose_name: null, is_dttm: Boolean(c.dttm), is_active: true, type: c.type, advanced_data_type: null, groupby: true, filterable: true, expression: null, description: null, python_date_format: null, extra: {} })),
        version: '1.0.0',
        database_uuid: dbUuid,
      }),
    );
  }
  for (const c of CHARTS) {
    const params = { ...c.params, viz_type: c.viz, datasource: `0__table` };
    const queryContext = {
      datasource: { id: 0, type: 'table' },
      force: false,
      queries: [{ columns: c.query.columns, metrics: c.query.metrics, filters: c.query.filters ?? [], orderby: c.query.orderby ?? [], row_limit: c.query.row_limit ?? 1000, extras: {}, time_range: 'No filter' }],
      form_data: params,
      result_format: 'json',
      result_type: 'full',
    };
    files.set(
      `charts/${fileName(c.name)}.yaml`,
      stringify({ slice_name: c.name, description: null, certified_by: null, certification_details: null, viz_type: c.viz, params, query_context: JSON.stringify(queryContext), cache_timeout: null, uuid: uuidOf(`chart/${c.name}`), version: '1.0.0', dataset_uuid: uuidOf(`dataset/${c.dataset}`) }),
    );
  }
  for (const d of DASHBOARDS) {
    const position: Record<string, unknown> = {
      DASHBOARD_VERSION_KEY: 'v2',
      ROOT_ID: { type: 'ROOT', id: 'ROOT_ID', children: ['GRID_ID'] },
      HEADER_ID: { id: 'HEADER_ID', type: 'HEADER', meta: { text: d.title } },
      GRID_ID: { type: 'GRID', id: 'GRID_ID', children: d.rows.map((_, i) => `ROW-${i}`), parents: ['ROOT_ID'] },
    };
    d.rows.forEach((row, i) => {
      position[`ROW-${i}`] = { type: 'ROW', id: `ROW-${i}`, children: row.map(([name]) => `CHART-${fileName(name)}`), parents: ['ROOT_ID', 'GRID_ID'], meta: { background: 'BACKGROUND_TRANSPARENT' } };
      for (const [name, width] of row) {
        position[`CHART-${fileName(name)}`] = {
          type: 'CHART',
          id: `CHART-${fileName(name)}`,
          children: [],
          parents: ['ROOT_ID', 'GRID_ID', `ROW-${i}`],
          meta: { width, height: 60, chartId: CHARTS.findIndex((c) => c.name === name) + 1, sliceName: name, uuid: uuidOf(`chart/${name}`) },
        };
      }
    });
    files.set(
      `dashboards/${fileName(d.title)}.yaml`,
      stringify({
        dashboard_title: d.title,
        description: null,
        css: '',
        slug: d.slug,
        certified_by: '',
        certification_details: '',
        published: true,
        uuid: uuidOf(`dashboard/${d.slug}`),
        position,
        metadata: { color_scheme: 'supersetColors', refresh_frequency: 0, expanded_slices: {}, label_colors: {}, timed_refresh_immune_slices: [], cross_filters_enabled: false, default_filters: '{}', chart_configuration: {}, native_filter_configuration: [] },
        version: '1.0.0',
      }),
    );
  }
  return files;
}

/** Where Superset reads the data: the Tollgate settings of the store (TOLLGATE_CLICKHOUSE_*, TOLLGATE_DATA_DIR). */
export interface SupersetStore {
  /** A ClickHouse server's HTTP URL (http[s]://host:port); empty for the embedded chDB store. */
  url: string;
  user: string;
  database: string;
  /** The embedded store's directory (made absolute), when url is empty. */
  dataDir: string;
}

/**
 * The SQLAlchemy URI of the store, for clickhouse-connect: `clickhousedb://<user>@<host>:<port>/<db>`
 * for a server (`?secure=true` over https), `clickhousedb:///<db>?interface=chdb&path=<abs dir>` for
 * the embedded store. Never a password (not even one written into the URL).
 */
export function supersetUri(store: SupersetStore): string {
  const db = encodeURIComponent(store.database);
  if (!store.url) return `clickhousedb:///${db}?interface=chdb&path=${resolve(store.dataDir)}`;
  const u = new URL(store.url);
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error(`TOLLGATE_CLICKHOUSE_URL: expected http:// or https://, got ${u.protocol}//`);
  const port = u.port || (u.protocol === 'https:' ? '8443' : '8123');
  return `clickhousedb://${encodeURIComponent(store.user)}@${u.hostname}:${port}/${db}${u.protocol === 'https:' ? '?secure=true' : ''}`;
}

/** The bundle as a ZIP (one root folder, `tollgate_dashboards/`): stored entries, fixed times, so the same definitions give the same bytes. */
export function bundleZip(sqlalchemyUri: string, database?: string): Buffer {
  const local: Buffer[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  for (const [path, text] of bundleFiles(sqlalchemyUri, database)) {
    const name = Buffer.from(`tollgate_dashboards/${path}`, 'utf8');
    const data = Buffer.from(text, 'utf8');
    const crc = crc32(data);
    // Version 2.0, flag bit 11 (UTF-8 names), method 0 (stored), DOS time 00:00 on 1980-01-01.
    const head = Buffer.alloc(30);
    head.writeUInt32LE(0x04034b50, 0);
    head.writeUInt16LE(20, 4);
    head.writeUInt16LE(0x0800, 6);
    head.writeUInt16LE(0, 8);
    head.writeUInt16LE(0, 10);
    head.writeUInt16LE(0x21, 12);
    head.writeUInt32LE(crc, 14);
    head.writeUInt32LE(data.length, 18);
    head.writeUInt32LE(data.length, 22);
    head.writeUInt16LE(name.length, 26);
    head.writeUInt16LE(0, 28);
    const dir = Buffer.alloc(46);
    dir.writeUInt32LE(0x02014b50, 0);
    dir.writeUInt16LE(20, 4);
    dir.writeUInt16LE(20, 6);
    head.copy(dir, 8, 6, 30);
    dir.writeUInt16LE(0, 30); // extra, comment, disk, internal attributes
    dir.writeUInt16LE(0, 32);
    dir.writeUInt16LE(0, 34);
    dir.writeUInt16LE(0, 36);
    dir.writeUInt32LE(0, 38);
    dir.writeUInt32LE(offset, 42);
    local.push(head, name, data);
    central.push(dir, name);
    offset += head.length + name.length + data.length;
  }
  const size = central.reduce((n, b) => n + b.length, 0);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(central.length / 2, 8);
  end.writeUInt16LE(central.length / 2, 10);
  end.writeUInt32LE(size, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...local, ...central, end]);
}

/** Writes the bundle's ZIP to a file. */
export function writeBundle(outZip: string, sqlalchemyUri: string, opts: { database?: string } = {}): void {
  mkdirSync(dirname(resolve(outZip)), { recursive: true });
  writeFileSync(outZip, bundleZip(sqlalchemyUri, opts.database));
}
