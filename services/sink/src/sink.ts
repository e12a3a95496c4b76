// The sink: flows.enriched.v1 -> ClickHouse, exactly once.
//
// Per handler call (messages of ONE partition, in offset order) it decodes every message
// (a poison message goes to <topic>.dlq with the reason; the batch goes on), turns the
// flows into rows and stores them in as few chunks as batchRows allows (a chunk never spans
// two months: one insert into flows is then one part, atomic), each with the deduplication
// token `${topic}/${partition}/${first}-${last}`, retrying retriable errors with the same
// token. When the handler resolves the consumer commits. After a crash anywhere, a restarted
// sink first finishes the chunk that was interrupted (onAssign -> store.resumeChunks, which
// completes the rollups from flows) and resumes after what the store holds, whatever batch
// boundaries it now uses (libs/clickhouse/src/chunks.ts).
import { chunkToken, type RowBlock, type Store } from '@tollgate/clickhouse';
import type { Logger } from '@tollgate/log';
import {
  dlqMessage,
  errorMessage,
  isPermanent,
  once,
  retry,
  type Component,
  type Consumer,
  type InMessage,
  type Producer,
  type TopicNames,
  type Transport,
} from '@tollgate/pipeline';
import { Family, type EnrichedFlowBatch, type SchemaRegistry } from '@tollgate/schema';

export interface SinkSettings {
  /** Rows per ClickHouse insert, at most (TOLLGATE_SINK_BATCH_ROWS). */
  batchRows: number;
  /** Longest wait for a fuller batch, ms (TOLLGATE_SINK_FLUSH_MS). */
  flushMs: number;
}

export interface SinkDeps {
  transport: Transport;
  store: Store;
  topics: TopicNames;
  settings: SinkSettings;
  groupId?: string;
  clientId?: string;
  logger: Logger;
  registry: SchemaRegistry;
  /** Insert retries (retriable errors only). Default: 10 attempts, 200 ms doubling to 10 s. */
  retry?: { attempts: number; baseMs: number; maxMs?: number };
}

export interface SinkStats {
  /** Messages handled (stored or sent to the DLQ). */
  messages: number;
  rows: number;
  inserts: number;
  dlq: number;
  retries: number;
}

export interface Sink extends Component {
  stats(): SinkStats;
  /** Settles when the consumer stops: resolves after stop(), rejects if the sink failed (e.g. ClickHouse down past the retries). */
  readonly done: Promise<void>;
}

export const SINK_STAGE = 'sink';
export const DEFAULT_SINK_GROUP = 'tollgate-sink';

/** Messages per handler call: enough for a full insert at a few dozen flows per message. */
export function maxMessagesPerBatch(batchRows: number): number {
  return Math.max(1, Math.min(10_000, Math.ceil(batchRows / 50)));
}

/** Months since 1970 of a time (ms, UTC). */
function monthOf(ms: number): number {
  const d = new Date(ms);
  return d.getUTCFullYear() * 12 + d.getUTCMonth();
}

interface Chunk {
  blocks: RowBlock[];
  rows: number;
  /** Month of its rows (flows is partitioned by month: one chunk, one part, one atomic insert). */
  month: number;
  first: number;
  last: number;
  messages: InMessage[];
}

export function createSink(deps: SinkDeps): Sink {
  const { transport, store, topics, settings, registry } = deps;
  const logger = deps.logger;
  const groupId = deps.groupId ?? DEFAULT_SINK_GROUP;
  const clientId = deps.clientId ?? 'tollgate-sink';
  const retryOpts = deps.retry ?? { attempts: 10, baseMs: 200, maxMs: 10_000 };
  if (!Number.isInteger(settings.batchRows) || settings.batchRows < 1) throw new Error(`sink: batchRows must be a positive integer, got ${settings.batchRows}`);
  const codec = registry.codec<EnrichedFlowBatch>(Family.enriched);
  const counters: SinkStats = { messages: 0, rows: 0, inserts: 0, dlq: 0, retries: 0 };
  const abort = new AbortController();
  let consumer: Consumer | undefined;
  let producer: Producer | undefined;
  let resolveDone!: () => void;
  let rejectDone!: (e: unknown) => void;
  const done = new Promise<void>((res, rej) => ((resolveDone = res), (rejectDone = rej)));
  done.catch(() => {});

  async function toDlq(msg: InMessage, reason: string): Promise<void> {
    const d = dlqMessage(msg, SINK_STAGE, reason);
    await producer!.send(d.topic, [d.message]);
    counters.dlq++;
    logger.warn({ topic: msg.topic, partition: msg.partition, offset: msg.offset, reason }, 'message sent to the DLQ');
  }

  async function insert(chunk: Chunk): Promise<void> {
    const m0 = chunk.messages[0]!;
    const token = chunkToken(m0.topic, m0.partition, chunk.first, chunk.last);
    const stored = { topic: m0.topic, partition: m0.partition, first: chunk.first, last: chunk.last, rows: chunk.rows, blocks: chunk.blocks };
    await retry(() => store.storeChunk(stored), {
      ...retryOpts,
      signal: abort.signal,
      onRetry: (err, attempt, delayMs) => {
        counters.retries++;
        logger.warn({ token, attempt, delayMs, err: errorMessage(err) }, 'ClickHouse insert failed, retrying');
      },
    });
    counters.inserts++;
    counters.rows += chunk.rows;
  }

  /** Inserts a chunk; if ClickHouse rejects its data, inserts message by message and DLQs the rejected ones. */
  async function flush(chunk: Chunk, rowsOf: Map<InMessage, RowBlock>): Promise<void> {
    if (chunk.rows === 0) return;
    try {
      await insert(chunk);
    } catch (err) {
      if (!isPermanent(err) || chunk.messages.length === 0) throw err;
      logger.warn({ err: errorMessage(err), messages: chunk.messages.length }, 'ClickHouse rejected a batch, inserting its messages one by one');
      for (const m of chunk.messages) {
        const block = rowsOf.get(m)!;
        if (block.rows === 0) continue;
        try {
          await insert({ blocks: [block], rows: block.rows, month: -1, first: m.offset, last: m.offset, messages: [m] });
        } catch (e) {
          if (!isPermanent(e)) throw e;
          await toDlq(m, `clickhouse rejected the rows: ${errorMessage(e)}`);
        }
      }
    }
  }

  /**
   * One partition's messages: decoded and converted chunk by chunk; a full chunk's insert runs
   * while the next chunk is decoded (chDB and a server both insert off the JS thread), at most
   * one insert in flight, in offset order. Resolves when every chunk is stored, so the consumer
   * commits only stored data.
   */
  async function handle(messages: InMessage[]): Promise<void> {
    const rowsOf = new Map<InMessage, RowBlock>();
    let chunk: Chunk = { blocks: [], rows: 0, month: -1, first: -1, last: -1, messages: [] };
    let inFlight: Promise<void> = Promise.resolve();
    const ship = async (c: Chunk) => {
      await inFlight;
      inFlight = flush(c, rowsOf);
      inFlight.catch(() => {});
    };
    for (const m of messages) {
      let batch: EnrichedFlowBatch;
      try {
        batch = codec.decode(m.value);
      } catch (err) {
        if (!isPermanent(err)) throw err;
        await toDlq(m, errorMessage(err));
        counters.messages++;
        continue;
      }
      const block = store.encodeFlowRows(batch, { topic: m.topic, partition: m.partition, offset: m.offset });
      const month = monthOf(batch.window_start);
      if (chunk.rows > 0 && (chunk.rows + block.rows > settings.batchRows || month !== chunk.month)) {
        await ship(chunk);
        chunk = { blocks: [], rows: 0, month, first: -1, last: -1, messages: [] };
      }
      chunk.month = month;
      rowsOf.set(m, block);
      if (chunk.first < 0) chunk.first = m.offset;
      chunk.last = m.offset;
      chunk.messages.push(m);
      chunk.blocks.push(block);
      chunk.rows += block.rows;
    }
    await ship(chunk);
    await inFlight;
    counters.messages += rowsOf.size;
  }

  const stop = once(async () => {
    abort.abort();
    await consumer?.close();
    await producer?.close();
    resolveDone();
    logger.info({ ...counters }, 'sink stopped');
  });

  return {
    name: 'sink',
    done,
    stats: () => ({ ...counters }),
    async start() {
      producer = await transport.producer(`${clientId}-dlq`);
      consumer = await transport.consumer(clientId, {
        groupId,
        topics: [topics.enriched],
        maxBatch: maxMessagesPerBatch(settings.batchRows),
        maxWaitMs: settings.flushMs,
        onAssign: async (topic) => {
          const next = await store.resumeChunks(topic);
          logger.info({ topic, resume: Object.fromEntries(next) }, 'partitions assigned; resuming after what the store holds');
          return next;
        },
      });
      await consumer.run(handle);
      consumer.done.then(
        () => resolveDone(),
        (err) => {
          logger.error({ err: errorMessage(err) }, 'sink consumer failed');
          rejectDone(err);
        },
      );
      logger.info({ topic: topics.enriched, groupId, batchRows: settings.batchRows, flushMs: settings.flushMs }, 'sink started');
    },
    stop,
  };
}
