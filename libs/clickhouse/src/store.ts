import { Readable } from 'node:stream';
// The Tollgate store: ClickHouse through @clickhouse/client, either a server (TOLLGATE_CLICKHOUSE_URL)
// or the embedded chDB engine in TOLLGATE_DATA_DIR (chDB's Connection plugged into the same
// client), so every query below runs on both unchanged.
import { accessSync, constants, mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { createClient, type ClickHouseClient } from '@clickhouse/client';
import { createChdbConnection } from 'chdb/connection';
import { ConfigError } from '@tollgate/config';
import type { Logger } from '@tollgate/log';
import { PermanentError } from '@tollgate/pipeline';
import type { EnrichedFlowBatch } from '@tollgate/schema';
import { DEFAULT_MIGRATIONS_DIR, runMigrations } from './migrate.ts';
import { encodeFlowRows, FLOW_COLUMNS, rowBlock, toFlowRows, type FlowRow, type RowBlock, type SourceCoordinates } from './rows.ts';
import { chunkToken, rollupStatement } from './chunks.ts';
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

export interface Store {
  readonly mode: 'embedded' | 'server';
  readonly database: string;
  /** The underlying client, for ad-hoc SQL (tables are `${database}.<name>`). */
  readonly client: ClickHouseClient;
  /** Applies pending migrations; returns the names applied now. */
  migrate(): Promise<string[]>;
  /**
   * Stores one chunk of Kafka messages (one partition, offsets first..last, rows encoded by
   * encodeFlowRows) in flows and the rollups, exactly once: storing the same chunk again, or
   * finishing it after a crash (resumeChunks), changes nothing. The rows must lie in one month.
   */
  storeChunk(chunk: Chunk): Promise<void>;
  /** Hand-made rows (tests, tools): one chunk per topic and partition of the rows, by their src_* coordinates. */
  insertFlows(rows: readonly FlowRow[]): Promise<void>;
  toFlowRows(batch: EnrichedFlowBatch, src: SourceCoordinates): FlowRow[];
  encodeFlowRows(batch: EnrichedFlowBatch, src: SourceCoordinates): RowBlock;
  /**
   * For a (re)starting sink: finishes the chunk a crash interrupted, per partition of `topic`, and
   * returns where to resume: after the last chunk stored, or at the start of an interrupted chunk
   * that flows does not hold (it is read from Kafka again).
   */
  resumeChunks(topic: string): Promise<Map<number, number>>;
  costByWorkload(opts?: Period & { top?: number }): Promise<WorkloadCost[]>;
  costTotals(opts?: Period): Promise<CostTotals>;
  anomalies(opts?: Period): Promise<AnomalyGroup[]>;
  /** Rows of the `anomalies` view (one per rule, workload, destination and hour), oldest first. */
  anomalyRows(opts?: Period): Promise<AnomalyRow[]>;
  bytesByWorkloadClass(): Promise<WorkloadClassBytes[]>;
  /** Clusters that have traffic in the store. */
  clusters(): Promise<string[]>;
  /** Deletes all traffic (flows, rollups, sink offsets), keeping prices and rule settings. For the demo's fresh start. */
  truncateTraffic(): Promise<void>;
  close(): Promise<void>;
}

/** Tables that hold traffic (as opposed to prices and rule settings). */
const TRAFFIC_TABLES = ['flows', 'sink_chunks', 'workload_hourly', 'destinations_hourly'] as const;

export interface Chunk {
  topic: string;
  partition: number;
  first: number;
  last: number;
  rows: number;
  blocks: readonly RowBlock[];
}

const IDENT = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

/** ClickHouse error codes that mean "this data can never be inserted" (parse and type errors). */
const PERMANENT_INSERT_CODES = new Set(['6', '25', '26', '27', '32', '33', '38', '41', '53', '69', '70', '72', '117', '131', '632', '676', '677']);

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

function openEmbedded(dataDir: string, logger: Logger): { client: ClickHouseClient; connection: ChdbConnection } {
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
  return { connection, client: createClient({ log: clientLog(logger), connection: connection as unknown as NonNullable<Parameters<typeof createClient>[0]>['connection'] }) };
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
    ({ client, connection: chdb } = openEmbedded(cfg.dataDir, logger));
    logger.info({ mode, dataDir: resolve(cfg.dataDir), database }, 'embedded chDB store opened');
  }

  const query = async <T>(sql: string, params: Record<string, unknown> = {}): Promise<T[]> => {
    const rs = await client.query({ query: sql, format: 'JSONEachRow', query_params: params });
    return rs.json<T>();
  };

  const insertRows = async (blocks: readonly RowBlock[], dedupToken: string): Promise<void> => {
    if (blocks.every((b) => b.rows === 0)) return;
    const values = blocks.length === 1 ? blocks[0]!.body : blocks.map((b) => b.body).join('');
    const settings = {
      insert_deduplicate: 1,
      insert_deduplication_token: dedupToken,
      deduplicate_blocks_in_dependent_materialized_views: 1,
      // Parallel parsing: a single parser thread costs ~12% less CPU, but `npm run bench` finishes
      // the pipeline ~15% sooner with the parallel parser (the sink is the last stage).
      input_format_parallel_parsing: 1,
    } as const;
    try {
      if (chdb) {
        // Embedded: chDB's raw insert hands the body to the engine without copies and puts
        // the settings in the INSERT's SETTINGS clause. (Through the client, chDB turns
        // clickhouse_settings into session-wide SET statements that outlive the insert.)
        await chdb.chdb.rawInsert({ table: `${database}.flows`, columns: FLOW_COLUMNS, format: 'JSONCompactEachRow', values, settings });
      } else {
        await client.insert({
          table: `${db}.flows`,
          columns: [...FLOW_COLUMNS],
          format: 'JSONCompactEachRow',
          values: Readable.from([values]),
          clickhouse_settings: settings,
        });
      }
    } catch (err) {
      // @clickhouse/client errors carry the ClickHouse code in .code; chDB's native ones in .clickhouseCode.
      const e = err as { code?: unknown; clickhouseCode?: unknown };
      const code = String(e.clickhouseCode ?? e.code ?? '');
      if (PERMANENT_INSERT_CODES.has(code)) throw new PermanentError(`ClickHouse rejected the rows: ${(err as Error).message}`, { cause: err });
      throw err;
    }
  };

  /** Step 3 (chunks.ts): the chunk's rows from flows through the rollups' views. Idempotent. */
  const rollUp = async (c: Pick<Chunk, 'topic' | 'partition' | 'first' | 'last'>) => {
    const params = { topic: c.topic, partition: c.partition, first: c.first, last: c.last };
    await client.command({ query: rollupStatement(db, chunkToken(c.topic, c.partition, c.first, c.last)), query_params: params });
  };

  const storeChunk = async (c: Chunk) => {
    if (c.rows === 0) return;
    await client.insert({
      table: `${db}.sink_chunks`,
      format: 'JSONEachRow',
      values: [{ src_topic: c.topic, src_partition: c.partition, first_offset: c.first, last_offset: c.last, rows: c.rows }],
    });
    await insertRows(c.blocks, chunkToken(c.topic, c.partition, c.first, c.last));
    await rollUp(c);
  };

  let closed: Promise<void> | undefined;
  return {
    mode,
    database,
    client,
    migrate: () => runMigrations(client, database, cfg.migrationsDir ?? DEFAULT_MIGRATIONS_DIR, logger),


    toFlowRows,
    encodeFlowRows,

    resumeChunks: async (topic) => {
      const last = await query<{ p: number; first: string; last: string; rows: string }>(
        `SELECT src_partition AS p, toString(first_offset) AS first, toString(last_offset) AS last, toString(rows) AS rows
         FROM ${db}.sink_chunks WHERE src_topic = {topic:String}
         ORDER BY src_partition, last_offset DESC LIMIT 1 BY src_partition`,
        { topic },
      );
      const next = new Map<number, number>();
      for (const c of last) {
        const [p, first, lastOff, rows] = [Number(c.p), Number(c.first), Number(c.last), Number(c.rows)];
        const [{ n }] = (await query<{ n: string }>(
          `SELECT toString(count()) AS n FROM ${db}.flows
           WHERE src_topic = {topic:String} AND src_partition = {partition:UInt32} AND src_offset BETWEEN {first:UInt64} AND {last:UInt64}`,
          { topic, partition: p, first, last: lastOff },
        )) as [{ n: string }];
        const held = Number(n);
        if (held === 0) {
          logger.warn({ topic, partition: p, first, last: lastOff }, 'the last chunk never reached flows; reading it from Kafka again');
          next.set(p, first);
        } else if (held === rows) {
          // Complete in flows: (re)do its rollups; if they were done, their tokens make this a no-op.
          await rollUp({ topic, partition: p, first, last: lastOff });
          next.set(p, lastOff + 1);
        } else {
          throw new Error(`store inconsistent: flows holds ${held} of the ${rows} rows of ${chunkToken(topic, p, first, lastOff)}`);
        }
      }
      return next;
    },

    storeChunk,
    insertFlows: async (rows) => {
      const groups = new Map<string, FlowRow[]>();
      for (const r of rows) {
        const k = `${r.src_topic}\u0000${r.src_partition}`;
        const g = groups.get(k);
        if (g) g.push(r);
        else groups.set(k, [r]);
      }
      for (const g of groups.values()) {
        const offsets = g.map((r) => r.src_offset);
        await storeChunk({ topic: g[0]!.src_topic, partition: g[0]!.src_partition, first: Math.min(...offsets), last: Math.max(...offsets), rows: g.length, blocks: [rowBlock(g)] });
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
      return (closed ??= client.close());
    },
  };
}
