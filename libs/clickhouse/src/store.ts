// The Tollgate store: ClickHouse through @clickhouse/client, either a server (TOLLGATE_CLICKHOUSE_URL)
// or the embedded chDB engine in TOLLGATE_DATA_DIR (chDB's Connection plugged into the same
// client), so every query below runs on both unchanged.
import { accessSync, constants, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { Readable } from 'node:stream';
import { createClient, type ClickHouseClient } from '@clickhouse/client';
import { createChdbConnection } from 'chdb/connection';
import { ConfigError } from '@tollgate/config';
import type { Logger } from '@tollgate/log';
import { DEFAULT_MIGRATIONS_DIR, runMigrations } from './migrate.ts';
import { columnsOf, FLOW_COLUMNS, rollupBlock, ROW_FORMAT, type FlowRow } from './rows.ts';
import { ARROW_SELECT, arrowColumns, textRows, type ArrowColumn } from './columnar.ts';
import { createIngest, type FlowsInsert, type IngestItem, type RawInsert } from './ingest.ts';
import {
  anomalies,
  anomalyRows,
  bytesByWorkloadClass,
  costByWorkload,
  costTotals,
  type AnomalyGroup,
  type AnomalyRow,
  type CostTotals,
  type Period,
  type WorkloadClassBytes,
  type WorkloadCost,
} from './reports.ts';

export interface StoreConfig {
  /** ClickHouse server URL; empty: embedded chDB in dataDir. */
  url: string;
  user: string;
  password: string;
  database: string;
  dataDir: string;
  /** Override of infra/clickhouse (tests). */
  migrationsDir?: string;
}

/**
 * The query side of the store (reports, views, ad-hoc SQL), plus what the ingest module
 * (ingest.ts, the only writer of traffic) needs: the client and the engine's raw insert.
 */
export interface Store {
  readonly mode: 'embedded' | 'server';
  readonly database: string;
  /** The underlying client, for ad-hoc SQL (tables are `${database}.<name>`). */
  readonly client: ClickHouseClient;
  /** An insert of a pre-encoded body (ROW_FORMAT) with per-insert settings: chDB's raw insert, or the client's. */
  readonly rawInsert: RawInsert;
  /** An insert of flows rows from their columns: Arrow into chDB, ROW_FORMAT text into a server (columnar.ts). */
  readonly flowsInsert: FlowsInsert;
  /** Applies pending migrations; returns the names applied now. */
  migrate(): Promise<string[]>;
  /**
   * Hand-made rows (tests, tools), through the ingest module: one message per (topic, partition,
   * offset) of their src_* coordinates. Claims those partitions (a running sink on them is fenced).
   */
  insertFlows(rows: readonly FlowRow[]): Promise<void>;
  costByWorkload(opts?: Period & { top?: number }): Promise<WorkloadCost[]>;
  costTotals(opts?: Period): Promise<CostTotals>;
  anomalies(opts?: Period): Promise<AnomalyGroup[]>;
  /** Rows of the `anomalies` view (one per rule, workload, destination and hour), oldest first. */
  anomalyRows(opts?: Period): Promise<AnomalyRow[]>;
  bytesByWorkloadClass(): Promise<WorkloadClassBytes[]>;
  /** Clusters that have traffic in the store. */
  clusters(): Promise<string[]>;
  /** Deletes all traffic (flows, rollups, the sink's ledger), keeping prices and rule settings. For the demo's fresh start. */
  truncateTraffic(): Promise<void>;
  close(): Promise<void>;
}

/** Tables that hold traffic (as opposed to prices and rule settings). */
const TRAFFIC_TABLES = [
  'flows',
  'sink_chunks',
  'ingest_ledger',
  'workload_hourly',
  'destinations_hourly',
  'workload_daily',
  'label_hourly',
  'destination_keys_daily',
  'workload_egress_hourly',
] as const;

const IDENT = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;
const TABLE = /^[A-Za-z_][A-Za-z0-9_]{0,62}(\.[A-Za-z_][A-Za-z0-9_]{0,62})?$/;

/** chDB's session and its Arrow registration (the package's own API, not in its typings). */
interface ChdbSession {
  readonly connection: unknown;
  queryAsync(sql: string, opts: { format: string }): Promise<unknown>;
  close(): void;
}
const chdbNative = createRequire(import.meta.url)('chdb') as {
  Session: new (path: string) => ChdbSession;
  _arrowRegisterColumns(connection: unknown, name: string, columns: ArrowColumn[]): void;
  _arrowUnregister(connection: unknown, name: string): void;
};

/**
 * What the installed chdb lacks of the Arrow insert's API (undefined: nothing). These functions are
 * exported by chdb 3.4.0 (package.json pins it) but not typed, so an upgrade may drop them: the
 * store then fails at open, naming them, not at its first flows insert.
 */
export function chdbArrowProblem(mod: unknown = chdbNative): string | undefined {
  const m = (mod ?? {}) as Record<string, unknown>;
  const missing = ['Session', '_arrowRegisterColumns', '_arrowUnregister'].filter((k) => typeof m[k] !== 'function');
  if (missing.length === 0) return undefined;
  return `the installed chdb has no ${missing.join(', ')}: the embedded flows insert registers Arrow columns with them (chdb 3.4.0 has them; package.json pins it)`;
}

/** Registered Arrow tables of this process, numbered (their names are the engine's, not a session's). */
let arrowTables = 0;

/** A SETTINGS clause: names checked, numbers as they are, strings as quoted literals (never spliced raw). */
function settingsClause(settings: Record<string, string | number>): string {
  return Object.entries(settings)
    .map(([k, v]) => {
      if (!IDENT.test(k)) throw new Error(`setting name '${k}' is not an identifier`);
      if (typeof v === 'number') {
        if (!Number.isFinite(v)) throw new Error(`setting ${k}: ${v} is not a number`);
        return `${k} = ${v}`;
      }
      return `${k} = '${v.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
    })
    .join(', ');
}

function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparsable URL)';
  }
}

type ChdbConnection = ReturnType<typeof createChdbConnection>;

interface ClientLogParams {
  module: string;
  message: string;
  args?: Record<string, unknown>;
  err?: Error;
}

/** The client's own log lines (retries, socket errors) go to pino, not to the console. */
function clientLog(logger: Logger) {
  const line = (level: 'debug' | 'info' | 'warn' | 'error') => (p: ClientLogParams) =>
    logger[level]({ module: p.module, ...(p.err ? { err: p.err.message } : {}) }, p.message);
  return {
    LoggerClass: class {
      trace = line('debug');
      debug = line('debug');
      info = line('info');
      warn = line('warn');
      error = line('error');
    },
  };
}

function openEmbedded(dataDir: string, logger: Logger): { client: ClickHouseClient; connection: ChdbConnection; dir: string } {
  const dir = resolve(dataDir);
  try {
    mkdirSync(dir, { recursive: true });
    accessSync(dir, constants.W_OK | constants.R_OK | constants.X_OK);
  } catch (err) {
    throw new ConfigError('TOLLGATE_DATA_DIR', `cannot create or write the embedded store directory ${dir}: ${(err as Error).message}`);
  }
  let connection;
  try {
    connection = createChdbConnection({ path: dir });
  } catch (err) {
    const msg = (err as Error).message;
    if (/only one active data directory/.test(msg)) {
      throw new ConfigError('TOLLGATE_DATA_DIR', `this process already has another embedded store open (chDB allows one directory per process): ${msg}`);
    }
    // chDB reports a held lock ("Cannot lock file <dir>/status") only on stderr; the error
    // itself is generic. The directory is writable (checked above), so a lock is the likely cause.
    throw new ConfigError(
      'TOLLGATE_DATA_DIR',
      `cannot open the embedded store in ${dir}: another tollgate process probably owns it (chDB locks its directory; stop that process, query through it, or use another directory). (${msg})`,
    );
  }
  // chDB types its Connection against @clickhouse/client-common, a copy of the client's own
  // (vendored) types: structurally the same contract, nominally different declarations.
  return { dir, connection, client: createClient({ log: clientLog(logger), connection: connection as unknown as NonNullable<Parameters<typeof createClient>[0]>['connection'] }) };
}

export async function openStore(cfg: StoreConfig, logger: Logger): Promise<Store> {
  if (!IDENT.test(cfg.database)) {
    throw new ConfigError('TOLLGATE_CLICKHOUSE_DATABASE', `'${cfg.database}' is not a valid database name (letters, digits, _; not starting with a digit)`);
  }
  const database = cfg.database;
  const db = `\`${database}\``;
  const mode: Store['mode'] = cfg.url ? 'server' : 'embedded';
  let client: ClickHouseClient;
  let chdb: ChdbConnection | undefined;
  let embeddedDir: string | undefined;
  if (mode === 'server') {
    let parsed: URL;
    try {
      parsed = new URL(cfg.url);
    } catch {
      throw new ConfigError('TOLLGATE_CLICKHOUSE_URL', `'${redactUrl(cfg.url)}' is not a URL (http://host:8123)`);
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
      throw new ConfigError('TOLLGATE_CLICKHOUSE_URL', `${redactUrl(cfg.url)}: only http:// and https:// are supported`);
    }
    client = createClient({ url: cfg.url, username: cfg.user, password: cfg.password, request_timeout: 60_000, log: clientLog(logger) });
    const ping = await client.ping();
    if (!ping.success) {
      await client.close().catch(() => {});
      throw new ConfigError('TOLLGATE_CLICKHOUSE_URL', `ClickHouse at ${redactUrl(cfg.url)} is unreachable: ${ping.error.message.replaceAll(cfg.password || '\u0000', '***')}`);
    }
    logger.info({ mode, url: redactUrl(cfg.url), user: cfg.user, database }, 'ClickHouse store opened');
  } else {
    const problem = chdbArrowProblem();
    if (problem) throw new Error(`embedded store: ${problem}`);
    ({ client, connection: chdb, dir: embeddedDir } = openEmbedded(cfg.dataDir, logger));
    logger.info({ mode, dataDir: resolve(cfg.dataDir), database }, 'embedded chDB store opened');
  }

  const query = async <T>(sql: string, params: Record<string, unknown> = {}): Promise<T[]> => {
    const rs = await client.query({ query: sql, format: 'JSONEachRow', query_params: params });
    return rs.json<T>();
  };

  const rawInsert: RawInsert = async (table, columns, body, settings, format) => {
    // (A wrapper that drops the format would insert a body in another format than it names.)
    if (!format) throw new Error(`rawInsert into ${table}: no format given`);
    if (chdb) {
      // Embedded: chDB's raw insert hands the body to the engine without copies and puts
      // the settings in the INSERT's SETTINGS clause. (Through the client, chDB turns
      // clickhouse_settings into session-wide SET statements that outlive the insert.)
      await chdb.chdb.rawInsert({ table, columns, format, values: body, settings });
    } else {
      await client.insert({
        table,
        columns: [...columns] as [string, ...string[]],
        format,
        values: Readable.from([body]),
        clickhouse_settings: settings,
      });
    }
  };

  // Embedded: flows rows as Arrow columns (columnar.ts), on a second chDB session of the same
  // directory (the client's session is not reachable from here); a server: ROW_FORMAT text.
  let arrow: ChdbSession | undefined;
  const flowsInsert: FlowsInsert = async (table, blocks, settings) => {
    if (!TABLE.test(table)) throw new Error(`flowsInsert: '${table}' is not a table name`);
    if (!chdb) return rawInsert(table, FLOW_COLUMNS, textRows(blocks), settings, ROW_FORMAT);
    arrow ??= new chdbNative.Session(embeddedDir!);
    const name = `tollgate_flows_${++arrowTables}`;
    chdbNative._arrowRegisterColumns(arrow.connection, name, arrowColumns(blocks));
    try {
      await arrow.queryAsync(
        `INSERT INTO ${table} (${FLOW_COLUMNS.join(', ')}) SELECT ${ARROW_SELECT} FROM arrowstream('${name}') SETTINGS ${settingsClause({ schema_inference_make_columns_nullable: 0, ...settings })}`,
        { format: 'CSV' },
      );
    } finally {
      chdbNative._arrowUnregister(arrow.connection, name);
    }
  };

  let closed: Promise<void> | undefined;
  return {
    mode,
    database,
    client,
    migrate: () => runMigrations(client, database, cfg.migrationsDir ?? DEFAULT_MIGRATIONS_DIR, logger),


    rawInsert,
    flowsInsert,
    insertFlows: async (rows) => {
      const groups = new Map<string, Map<number, FlowRow[]>>();
      for (const r of rows) {
        const k = `${r.src_topic}\u0000${r.src_partition}`;
        let g = groups.get(k);
        if (!g) groups.set(k, (g = new Map()));
        const m = g.get(r.src_offset);
        if (m) m.push(r);
        else g.set(r.src_offset, [r]);
      }
      const ingest = createIngest({ client, database, rawInsert, flowsInsert }, { maxChunkRows: 1_000_000, owner: `insertFlows-${process.pid}`, logger });
      for (const g of groups.values()) {
        const msgs = [...g.entries()].sort((a, b) => a[0] - b[0]);
        const { src_topic: topic, src_partition: partition } = msgs[0]![1][0]!;
        await ingest.resume(topic, [partition]);
        // Hand-made rows may span months: one chunk then is several parts (each deduplicated by
        // the token's per-block suffix), which is fine for tools; the sink's chunks never do.
        const items: IngestItem[] = msgs.map(([offset, rs]) => ({
          offset,
          month: 0,
          flows: columnsOf(rs),
          rollup: rollupBlock(rs),
        }));
        await ingest.store(topic, partition, items, items[items.length - 1]!.offset, async (offset, reason) => {
          throw new Error(`insertFlows: ClickHouse rejected the rows of offset ${offset}: ${reason}`);
        });
      }
    },

    costByWorkload: (opts = {}) => costByWorkload(query, db, opts),
    costTotals: (opts = {}) => costTotals(query, db, opts),
    anomalies: (opts = {}) => anomalies(query, db, opts),
    anomalyRows: (opts = {}) => anomalyRows(query, db, opts),
    bytesByWorkloadClass: () => bytesByWorkloadClass(query, db),

    async clusters() {
      const rows = await query<{ cluster: string }>(
        `SELECT DISTINCT cluster FROM (SELECT DISTINCT cluster FROM ${db}.workload_hourly UNION ALL SELECT DISTINCT cluster FROM ${db}.flows) ORDER BY cluster`,
      );
      return rows.map((r) => r.cluster);
    },

    async truncateTraffic() {
      for (const table of TRAFFIC_TABLES) await client.command({ query: `TRUNCATE TABLE IF EXISTS ${db}.${table}` });
    },

    close() {
      return (closed ??= (async () => {
        arrow?.close();
        await client.close();
      })());
    },
  };
}

