// The sink's whole storage protocol, in one place: chunk policy, ledger, flows insert, rollup
// feed, replay, resume and fencing. The sink decodes and validates; this module decides what a
// chunk is and makes storing it exactly once.
//
// A chunk is a run of one partition's messages (offsets first..last) whose rows lie in one
// month (flows is partitioned by month) and number at most maxChunkRows (< one insert block),
// so its flows insert is one part: all or nothing. Storing a chunk:
//
//   1. ledger: an `intent` row (epoch, owner, seq, first, last, rows) in ingest_ledger;
//      then the fence: the partition's newest claim must still be ours;
//   2. flows:  the rows (their columns: columnar.ts), insert_deduplication_token = <topic>/<partition>/<first>-<last>
//              (the chunk's coordinates, never its body: a retried or replayed chunk has the same token);
//   3. rollup: the same flows, as the messages' own rollup_input rows (token ...#r). Not read back
//      from flows (INSERT ... SELECT): ClickHouse derives the views' deduplication ids of an INSERT
//      SELECT from the parts it read too, so a replay after flows merged the chunk's part fed every
//      rollup a second time (a chaos run: workload_hourly 1,331 flows above the truth, one chunk
//      twice; reproduced on its kept store), and flows' TTL may drop late rows before they are read.
//      A plain insert under the token is deduplicated by the token alone, as the flows insert is.
//   4. done:   a `done` row. Then the consumer may commit.
//
// The ledger resolves by what was written last: the partition's row with the highest
// (epoch, owner, seq). A restarted (or newly assigned) sink claims the partition (a higher
// epoch), then reads that row: `done` -> resume after it; `intent` -> the chunk may or may not
// be stored, so it is stored again with exactly its boundaries (the same tokens: ClickHouse
// drops what it already has) before anything else; the re-read is cut at its `last` whatever
// batch sizes the consumer now hands out, and held in memory until it is complete (the commit
// offset stays at its start). Rows of a lower epoch written after a higher claim (a zombie
// sink) are never read: the zombie checks the fence after its intent row and before inserting,
// so either the new owner saw its intent (and stores that chunk again, same tokens) or the
// zombie sees the newer claim and stops.
//
// ClickHouse rejecting a chunk's data (a permanent error): the chunk is stored message by
// message (token <topic>/<partition>/<o>-<o>), the rejected messages go to the DLQ, then the
// chunk's `done` row. A crash in between stores the chunk again the same way: a rejection is
// deterministic and the per-message tokens drop what is already there.
import type { ClickHouseClient } from '@clickhouse/client';
import type { Logger } from '@tollgate/log';
import { errorMessage, isPermanent, PermanentError, retry } from '@tollgate/pipeline';
import { chunkToken, tokenLiteral } from './chunks.ts';
import { ROLLUP_INSERT_COLUMNS, ROW_FORMAT, type FlowColumns, type RowBlock } from './rows.ts';
import type { InsertFormat } from './text-format.ts';

export type { InsertFormat } from './text-format.ts';

/** The largest chunk: below ClickHouse's max_insert_block_size (1,048,449), so an insert is one block. */
export const MAX_CHUNK_ROWS = 1_000_000;

/**
 * Whether a message's rows (oldest at `timeMs`) must feed the rollups from its own rows: older
 * than flows' TTL (14 days, infra/clickhouse/0050_daily_rollup_retention.sql) less 3 days of margin, so a row read
 * back from flows is always far from its TTL.
 */
/** One decoded message of a partition, ready to store: its rows for flows and for rollup_input. */
export interface IngestItem {
  offset: number;
  /** Months since 1970 of its rows (a chunk never spans two). */
  month: number;
  /** Its flows rows, as columns (flowColumns, or columnsOf for hand-made rows). */
  flows: FlowColumns;
  /** The same flows as rollup_input rows (step 3), ROLLUP_INSERT_COLUMNS order: folded (encodeRollupRows) or one per flow (rollupBlock). */
  rollup: RowBlock;
}

/** The protocol steps, for fault injection in tests (a fault right after the step). */
export type IngestStep = 'ledger' | 'flows' | 'rollup' | 'done';

export interface ChunkRef {
  topic: string;
  partition: number;
  first: number;
  last: number;
  rows: number;
}

export interface IngestOptions {
  /** Rows per chunk, at most (1..MAX_CHUNK_ROWS). */
  maxChunkRows: number;
  /** This sink instance (pod name, pid): the fence's tie-breaker. */
  owner: string;
  logger: Logger;
  /** Retries of a retriable ClickHouse error, same tokens. Default 10 attempts from 200 ms to 10 s. */
  retry?: { attempts: number; baseMs: number; maxMs?: number };
  signal?: AbortSignal;
  /** Called after each step of each chunk (tests inject crashes here). */
  fault?: (step: IngestStep, chunk: ChunkRef) => void | Promise<void>;
  /** Observers (metrics). */
  onStored?: (chunk: ChunkRef, seconds: number) => void;
  onReplay?: (chunk: ChunkRef) => void;
  onRetry?: () => void;
}

/** A message ClickHouse rejected (permanent error): the caller sends it to the DLQ. */
export type Reject = (offset: number, reason: string) => Promise<void>;

export interface IngestStats {
  chunks: number;
  rows: number;
  replayed: number;
  rejected: number;
  retries: number;
}

export interface Ingest {
  /**
   * Claims the partitions of `topic` for this instance and returns where to resume each one:
   * after its last stored chunk, or at the start of a chunk that was interrupted (stored again
   * first, with its boundaries). A partition the ledger does not know is left to the consumer.
   */
  resume(topic: string, partitions: number[]): Promise<Map<number, number>>;
  /**
   * Stores one partition's messages (in offset order; `through` is the offset of the batch's last
   * message, items may skip messages without rows). Resolves with the offset the consumer may
   * commit (next to read): `through + 1`, or less while an interrupted chunk's re-read is held.
   */
  store(topic: string, partition: number, items: readonly IngestItem[], through: number, reject: Reject): Promise<number>;
  stats(): IngestStats;
}

/** Another sink claimed the partition after this one: this one must stop writing it. */
export class FencedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FencedError';
  }
}

/**
 * The engine's side of an insert: chDB's raw insert (settings in the INSERT) or the client.
 * `format` is required: a wrapper (tests) must pass it on.
 */
export type RawInsert = (table: string, columns: readonly string[], body: string, settings: Record<string, string | number>, format: InsertFormat) => Promise<void>;

/**
 * The engine's side of a flows insert, from the rows' columns (the store encodes them: Arrow for
 * chDB, text for a server), with per-insert settings.
 */
export type FlowsInsert = (table: string, blocks: readonly FlowColumns[], settings: Record<string, string | number>) => Promise<void>;

export interface IngestStore {
  readonly client: ClickHouseClient;
  readonly database: string;
  readonly rawInsert: RawInsert;
  readonly flowsInsert: FlowsInsert;
}

/** ClickHouse error codes that mean "this data can never be inserted" (parse and type errors). */
const PERMANENT_INSERT_CODES = new Set(['6', '25', '26', '27', '32', '33', '38', '41', '53', '69', '70', '72', '117', '131', '632', '676', '677']);

/** Classifies an insert error: the data's fault (permanent) or the engine's (retriable). */
export function classifyInsertError(err: unknown): unknown {
  const e = err as { code?: unknown; clickhouseCode?: unknown };
  const code = String(e.clickhouseCode ?? e.code ?? '');
  if (PERMANENT_INSERT_CODES.has(code)) return new PermanentError(`ClickHouse rejected the rows: ${errorMessage(err)}`, { cause: err });
  return err;
}

interface LedgerRow {
  kind: 'claim' | 'intent' | 'done';
  epoch: string;
  owner: string;
  seq: string;
  first: string;
  last: string;
}

interface PartitionState {
  epoch: number;
  seq: number;
  /** An interrupted chunk being re-read: stored with exactly these boundaries. */
  pending?: { first: number; last: number };
  held: IngestItem[];
}

export function createIngest(store: IngestStore, opts: IngestOptions): Ingest {
  if (!Number.isInteger(opts.maxChunkRows) || opts.maxChunkRows < 1 || opts.maxChunkRows > MAX_CHUNK_ROWS) {
    throw new Error(`ingest: maxChunkRows must be 1..${MAX_CHUNK_ROWS}, got ${opts.maxChunkRows}`);
  }
  const { client } = store;
  const db = `\`${store.database}\``;
  const log = opts.logger;
  const retryOpts = opts.retry ?? { attempts: 10, baseMs: 200, maxMs: 10_000 };
  const parts = new Map<string, PartitionState>();
  const counters: IngestStats = { chunks: 0, rows: 0, replayed: 0, rejected: 0, retries: 0 };

  const withRetry = <T>(what: string, fn: () => Promise<T>) =>
    retry(fn, {
      ...retryOpts,
      signal: opts.signal,
      onRetry: (err, attempt, delayMs) => {
        counters.retries++;
        opts.onRetry?.();
        log.warn({ what, attempt, delayMs, err: errorMessage(err) }, 'ClickHouse failed, retrying');
      },
    });

  const query = async <T>(sql: string, params: Record<string, unknown>): Promise<T[]> => {
    const rs = await client.query({ query: sql, format: 'JSONEachRow', query_params: params });
    return rs.json<T>();
  };

  const ledger = (topic: string, partition: number, st: PartitionState, kind: LedgerRow['kind'], first = 0, last = 0, rows = 0) =>
    withRetry('ledger', () =>
      client.insert({
        table: `${db}.ingest_ledger`,
        format: 'JSONEachRow',
        values: [{ src_topic: topic, src_partition: partition, kind, epoch: st.epoch, owner: opts.owner, seq: ++st.seq, first_offset: first, last_offset: last, rows }],
        // chDB keeps SET values in its session: never let a data insert's token reach the ledger.
        clickhouse_settings: { insert_deduplication_token: '', insert_deduplicate: 0 },
      }),
    );

  /** The partition's newest claim, (epoch, owner). */
  const newestClaim = async (topic: string, partition: number) => {
    const rows = await query<{ epoch: string; owner: string }>(
      `SELECT toString(epoch) AS epoch, owner FROM ${db}.ingest_ledger
       WHERE src_topic = {topic:String} AND src_partition = {partition:UInt32} AND kind = 'claim'
       ORDER BY epoch DESC, owner DESC LIMIT 1`,
      { topic, partition },
    );
    return rows[0] ? { epoch: Number(rows[0].epoch), owner: rows[0].owner } : undefined;
  };

  const checkFence = async (topic: string, partition: number, st: PartitionState) => {
    const c = await withRetry('fence', () => newestClaim(topic, partition));
    if (!c || c.epoch !== st.epoch || c.owner !== opts.owner) {
      parts.delete(`${topic}:${partition}`);
      throw new FencedError(
        `${topic}/${partition}: claimed by ${c?.owner ?? '?'} (epoch ${c?.epoch ?? '?'}) after this sink (${opts.owner}, epoch ${st.epoch}); it stops writing the partition`,
      );
    }
  };

  const insertSettings = (token: string) => ({
    insert_deduplicate: 1,
    insert_deduplication_token: token,
    deduplicate_blocks_in_dependent_materialized_views: 1,
    // One chunk, one block, one part (MAX_CHUNK_ROWS is below these).
    max_insert_block_size: 2_097_152,
    min_insert_block_size_rows: 2_097_152,
    min_insert_block_size_bytes: 0,
    input_format_parallel_parsing: 1,
  });

  const classified = async (fn: () => Promise<void>) => {
    try {
      await fn();
    } catch (err) {
      throw classifyInsertError(err);
    }
  };

  /** Steps 2 and 3 for a run of items (offsets first..last) under one token. */
  const insertBoth = async (ref: ChunkRef, items: readonly IngestItem[], token: string) => {
    tokenLiteral(token);
    const flows = items.map((i) => i.flows);
    await withRetry('flows', () => classified(() => store.flowsInsert(`${store.database}.flows`, flows, insertSettings(token))));
    await opts.fault?.('flows', ref);
    // Only after flows took the rows: a chunk ClickHouse rejects is stored message by message,
    // rollups included (a chunk's rollup rows stored next to a rejected flows insert would be
    // counted again by the fallback; the crash matrix's rejection case fails so).
    const rollup = `${token}#r`;
    tokenLiteral(rollup);
    const body = items.length === 1 ? items[0]!.rollup.body : items.map((i) => i.rollup.body).join('');
    // The rollups' views run side by side (each still deduplicated by the token).
    await withRetry('rollup_input', () =>
      classified(() => store.rawInsert(`${store.database}.rollup_input`, ROLLUP_INSERT_COLUMNS, body, { ...insertSettings(rollup), parallel_view_processing: 1 }, ROW_FORMAT)),
    );
  };

  const storeChunk = async (topic: string, partition: number, st: PartitionState, items: readonly IngestItem[], first: number, last: number, reject: Reject) => {
    const rows = items.reduce((n, i) => n + i.flows.rows, 0);
    const ref: ChunkRef = { topic, partition, first, last, rows };
    const t0 = performance.now();
    await ledger(topic, partition, st, 'intent', first, last, rows);
    await opts.fault?.('ledger', ref);
    await checkFence(topic, partition, st);
    const token = chunkToken(topic, partition, first, last);
    try {
      await insertBoth(ref, items, token);
    } catch (err) {
      if (!isPermanent(err)) throw err;
      log.warn({ token, err: errorMessage(err), messages: items.length }, 'ClickHouse rejected a chunk; storing its messages one by one');
      for (const item of items) {
        try {
          await insertBoth(ref, [item], chunkToken(topic, partition, item.offset, item.offset));
        } catch (e) {
          if (!isPermanent(e)) throw e;
          counters.rejected++;
          await reject(item.offset, `clickhouse rejected the rows: ${errorMessage(e)}`);
        }
      }
    }
    await opts.fault?.('rollup', ref);
    await ledger(topic, partition, st, 'done', first, last, rows);
    await opts.fault?.('done', ref);
    counters.chunks++;
    counters.rows += rows;
    opts.onStored?.(ref, (performance.now() - t0) / 1000);
  };

  return {
    stats: () => ({ ...counters }),

    async resume(topic, partitions) {
      const next = new Map<number, number>();
      const held = new Map(partitions.map((p) => [p, parts.get(`${topic}:${p}`)]));
      for (const partition of partitions) {
        const claim = await withRetry('claim', () => newestClaim(topic, partition));
        const st: PartitionState = { epoch: (claim?.epoch ?? 0) + 1, seq: 0, held: [] };
        await ledger(topic, partition, st, 'claim');
        const [last] = await withRetry('resume', () =>
          query<LedgerRow>(
            `SELECT kind, toString(epoch) AS epoch, owner, toString(seq) AS seq, toString(first_offset) AS first, toString(last_offset) AS last
             FROM ${db}.ingest_ledger
             WHERE src_topic = {topic:String} AND src_partition = {partition:UInt32} AND kind IN ('intent', 'done')
             ORDER BY epoch DESC, owner DESC, seq DESC LIMIT 1`,
            { topic, partition },
          ),
        );
        await checkFence(topic, partition, st);
        parts.set(`${topic}:${partition}`, st);
        if (!last) continue;
        const first = Number(last.first);
        const lastOffset = Number(last.last);
        if (last.kind === 'done') {
          next.set(partition, lastOffset + 1);
        } else {
          st.pending = { first, last: lastOffset };
          // Re-assigned to this same instance while it held the chunk's re-read: the consumer
          // resumes after what it handled, so what is held is not delivered again: keep it.
          const prev = held.get(partition);
          if (prev?.pending && prev.pending.first === first && prev.pending.last === lastOffset) st.held = prev.held;
          counters.replayed++;
          opts.onReplay?.({ topic, partition, first, last: lastOffset, rows: 0 });
          log.warn({ topic, partition, first, last: lastOffset, by: last.owner, epoch: Number(last.epoch) }, 'an interrupted chunk: storing it again with its boundaries');
          next.set(partition, first);
        }
      }
      return next;
    },

    async store(topic, partition, items, through, reject) {
      const st = parts.get(`${topic}:${partition}`);
      if (!st) throw new FencedError(`${topic}/${partition}: not claimed by this sink (resume() first)`);
      let i = 0;
      // An interrupted chunk first: exactly its boundaries, held until its last offset was read.
      if (st.pending) {
        const p = st.pending;
        // (A consumer that does deliver the held messages again: each is held once.)
        const heldThrough = st.held[st.held.length - 1]?.offset ?? -1;
        for (; i < items.length && items[i]!.offset <= p.last; i++) if (items[i]!.offset > heldThrough) st.held.push(items[i]!);
        if (through < p.last) return st.held[0]?.offset ?? through + 1;
        if (st.held.length > 0) await storeChunk(topic, partition, st, st.held, p.first, p.last, reject);
        st.pending = undefined;
        st.held = [];
      }
      let chunk: IngestItem[] = [];
      let rows = 0;
      const flush = async () => {
        if (chunk.length === 0) return;
        await storeChunk(topic, partition, st, chunk, chunk[0]!.offset, chunk[chunk.length - 1]!.offset, reject);
        chunk = [];
        rows = 0;
      };
      for (; i < items.length; i++) {
        const item = items[i]!;
        if (item.flows.rows === 0) continue;
        if (item.flows.rows > opts.maxChunkRows) throw new PermanentError(`message ${topic}/${partition}/${item.offset} has ${item.flows.rows} rows, above the chunk limit ${opts.maxChunkRows}`);
        // A chunk is one month (one part).
        if (chunk.length > 0 && (rows + item.flows.rows > opts.maxChunkRows || item.month !== chunk[0]!.month)) await flush();
        chunk.push(item);
        rows += item.flows.rows;
      }
      await flush();
      return through + 1;
    },
  };
}
