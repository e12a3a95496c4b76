// The sink: flows.enriched.v1 -> ClickHouse, exactly once.
//
// Per handler call (messages of ONE partition, in offset order) it decodes and validates every
// message (a poison message, or a bad record of a message, goes to <topic>.dlq with the reason;
// the rest goes on), encodes the rows and hands them to the ingest module
// (libs/clickhouse/src/ingest.ts), which owns the storage protocol: chunks, ledger, flows insert,
// rollup feed, replay of an interrupted chunk, fencing. The consumer commits only what the
// ingest module says is stored; on (re)assignment the sink resumes where the ledger says.
import { AgentPositions, createIngest, loadAgentPositions, encodeRollupRows, flowColumns, FencedError, type Ingest, type IngestItem, type IngestOptions, type Store } from '@tollgate/clickhouse';
import type { Logger } from '@tollgate/log';
import { stageMetrics } from '@tollgate/metrics';
import type { Registry } from '@tollgate/metrics';
import {
  dlqMessage,
  errorMessage,
  isPermanent,
  once,
  RunState,
  type Consumer,
  type InMessage,
  type OutMessage,
  type Producer,
  type Stage,
  type TopicNames,
  type Transport,
} from '@tollgate/pipeline';
import { Family, type EnrichedFlowBatch, type SchemaRegistry } from '@tollgate/schema';
import { validateSinkConfig, type SinkConfig } from './config.ts';
import { sinkMetrics } from './metrics.ts';
import { validateEnriched } from './validate.ts';

/** @deprecated name kept for callers: the sink's config. */
export type SinkSettings = SinkConfig;

export interface SinkDeps {
  transport: Transport;
  store: Store;
  topics: TopicNames;
  settings: SinkConfig;
  groupId?: string;
  clientId?: string;
  /** This instance in the ledger's fence (default: the client id and pid). */
  owner?: string;
  logger: Logger;
  registry: SchemaRegistry;
  /** Prometheus registry for the stage's metrics (default: none kept). */
  metrics?: Registry;
  /** ClickHouse retries (retriable errors only). Default: 10 attempts, 200 ms doubling to 10 s. */
  retry?: { attempts: number; baseMs: number; maxMs?: number };
  /** Fault injection (crash tests): after each ingest step, and at the start of each handler call. */
  faults?: { ingest?: IngestOptions['fault']; batch?: (call: number) => void };
}

export interface SinkStats {
  /** Messages handled (stored or sent to the DLQ). */
  messages: number;
  rows: number;
  inserts: number;
  dlq: number;
  retries: number;
  replayed: number;
  /** Second copies of agent batches dropped (libs/clickhouse/src/resends.ts). */
  resends: number;
}

export interface Sink extends Stage {
  stats(): SinkStats;
}

export const SINK_STAGE = 'sink';
export const DEFAULT_SINK_GROUP = 'tollgate-sink';

/** Messages per handler call: enough for a full chunk at a few dozen flows per message. */
export function maxMessagesPerBatch(batchRows: number): number {
  return Math.max(1, Math.min(10_000, Math.ceil(batchRows / 50)));
}

/** One turn of the event loop: pending I/O completions (an insert's) and their continuations run. */
function yieldToEvents(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Months since 1970 of a time (ms, UTC). */
function monthOf(ms: number): number {
  const d = new Date(ms);
  return d.getUTCFullYear() * 12 + d.getUTCMonth();
}

export function createSink(deps: SinkDeps): Sink {
  const { transport, store, topics, registry } = deps;
  const settings = validateSinkConfig(deps.settings);
  const logger = deps.logger;
  const groupId = deps.groupId ?? DEFAULT_SINK_GROUP;
  const clientId = deps.clientId ?? 'tollgate-sink';
  const codec = registry.codec<EnrichedFlowBatch>(Family.enriched);
  const counters = { messages: 0, dlq: 0, resends: 0 };
  const abort = new AbortController();
  const run = new RunState();
  const stage = deps.metrics ? stageMetrics.instruments(deps.metrics) : undefined;
  const own = deps.metrics ? sinkMetrics.instruments(deps.metrics) : undefined;
  const label = { stage: SINK_STAGE };
  let consumer: Consumer | undefined;
  let producer: Producer | undefined;
  let assigned = false;
  let calls = 0;
  /** Per partition: the batch seqs stored per agent (second copies are dropped; resends.ts). */
  const positions = new Map<number, AgentPositions>();

  const ingest: Ingest = createIngest(store, {
    maxChunkRows: settings.batchRows,
    owner: deps.owner ?? `${clientId}-${process.pid}`,
    logger,
    retry: deps.retry,
    signal: abort.signal,
    fault: deps.faults?.ingest,
    onStored: (c, seconds) => {
      own?.tollgate_sink_rows_inserted_total.inc(c.rows);
      own?.tollgate_sink_chunks_total.inc();
      own?.tollgate_sink_insert_seconds.observe(seconds);
      stage?.tollgate_records_out_total.inc(label, c.rows);
    },
    onReplay: () => own?.tollgate_sink_chunks_replayed_total.inc(),
    onRetry: () => own?.tollgate_sink_insert_retries_total.inc(),
  });

  async function sendDlq(dlq: Array<{ topic: string; message: OutMessage; reason: string }>): Promise<void> {
    if (dlq.length === 0) return;
    const byTopic = new Map<string, OutMessage[]>();
    for (const d of dlq) {
      const l = byTopic.get(d.topic) ?? [];
      l.push(d.message);
      byTopic.set(d.topic, l);
      stage?.tollgate_dlq_messages_total.inc({ ...label, reason: d.reason });
    }
    for (const [topic, msgs] of byTopic) await producer!.send(topic, msgs);
    counters.dlq += dlq.length;
  }

  /**
   * One partition's messages: decoded, validated and encoded in slices of about one chunk; a
   * slice is stored while the next is decoded (chDB and a server both insert off the JS thread).
   * Resolves with the offset the consumer may commit.
   */
  async function handle(messages: InMessage[]): Promise<number> {
    deps.faults?.batch?.(++calls);
    const t0 = performance.now();
    const m0 = messages[0]!;
    const dlq: Array<{ topic: string; message: OutMessage; reason: string }> = [];
    const toDlq = (m: InMessage, kind: string, reason: string) => {
      const d = dlqMessage(m, SINK_STAGE, `${kind}: ${reason}`);
      dlq.push({ ...d, reason: kind });
      logger.warn({ topic: m.topic, partition: m.partition, offset: m.offset, reason: `${kind}: ${reason}` }, 'message sent to the DLQ');
    };
    // Advanced as messages pass; kept only once they are stored (a failed call leaves it as it was).
    const pos = (positions.get(m0.partition) ?? new AgentPositions()).draft();
    let slice: IngestItem[] = [];
    let sliceRows = 0;
    let stored: Promise<number> = Promise.resolve(m0.offset);
    const ship = (through: number) => {
      const items = slice;
      slice = [];
      sliceRows = 0;
      const prev = stored;
      stored = prev.then(() => ingest.store(m0.topic, m0.partition, items, through, rejected));
      stored.catch(() => {});
    };
    const rejected = async (offset: number, reason: string) => {
      const m = messages.find((x) => x.offset === offset);
      own?.tollgate_sink_rejected_messages_total.inc();
      if (m) await sendDlq([{ ...dlqMessage(m, SINK_STAGE, reason), reason: 'clickhouse' }]);
    };
    for (let i = 0; i < messages.length; i++) {
      const m = messages[i]!;
      stage?.tollgate_messages_in_total.inc(label);
      let batch: EnrichedFlowBatch;
      try {
        batch = codec.decode(m.value);
      } catch (err) {
        if (!isPermanent(err)) throw err;
        toDlq(m, 'decode', errorMessage(err));
        continue;
      }
      stage?.tollgate_records_in_total.inc(label, batch.flows.length);
      let item: IngestItem;
      try {
        const v = validateEnriched(batch, settings.batchRows);
        if (v.bad.length > 0) {
          const shown = v.bad.slice(0, 5).map((b) => `flow ${b.index}: ${b.reason}`).join('; ');
          toDlq(m, 'invalid', `${v.bad.length} of ${batch.flows.length} flows invalid (the rest stored): ${shown}`);
        }
        batch = v.batch;
        if (pos.isResend(batch.source.agent_id, batch.source.seq)) {
          counters.resends++;
          own?.tollgate_sink_resent_batches_total.inc();
          continue;
        }
        if (batch.flows.length === 0) continue;
        pos.advance(batch.source.agent_id, batch.source.seq);
        const src = { topic: m.topic, partition: m.partition, offset: m.offset };
        // Its flows rows and its rollup_input rows (ingest.ts: the rollups are fed from the messages, never read back).
        item = { offset: m.offset, month: monthOf(batch.window_start), flows: flowColumns(batch, src), rollup: encodeRollupRows(batch, src) };
        let bytes = 0;
        for (const f of batch.flows) bytes += f.egress_bytes + f.ingress_bytes;
        stage?.tollgate_bytes_total.inc(label, bytes);
      } catch (err) {
        toDlq(m, 'invalid', errorMessage(err));
        continue;
      }
      if (sliceRows > 0 && sliceRows + item.flows.rows > settings.batchRows) {
        ship(messages[i - 1]!.offset);
        // Let the slice's store start now (its steps continue whenever this loop yields), so
        // that the engine inserts it while the next slice is decoded.
        await yieldToEvents();
      } else if ((i & 15) === 15) await yieldToEvents();
      slice.push(item);
      sliceRows += item.flows.rows;
    }
    await sendDlq(dlq);
    ship(messages[messages.length - 1]!.offset);
    const commit = await stored;
    // (A re-assignment while this call ran set the partition's positions anew: keep both.)
    positions.set(m0.partition, (positions.get(m0.partition) ?? new AgentPositions()).absorb(pos.added));
    counters.messages += messages.length;
    stage?.tollgate_batch_seconds.observe(label, (performance.now() - t0) / 1000);
    return commit;
  }

  const stop = once(async () => {
    abort.abort();
    await consumer?.close();
    await producer?.close();
    run.finish();
    logger.info({ ...stats() }, 'sink stopped');
  });

  const stats = (): SinkStats => {
    const s = ingest.stats();
    return { messages: counters.messages, rows: s.rows, inserts: s.chunks, dlq: counters.dlq, retries: s.retries, replayed: s.replayed, resends: counters.resends };
  };

  return {
    name: SINK_STAGE,
    done: run.done,
    stats,
    ready: () => (run.state !== 'running' ? `sink ${run.state}` : assigned ? true : 'waiting for a partition assignment'),
    async start() {
      producer = await transport.producer(`${clientId}-dlq`);
      consumer = await transport.consumer(clientId, {
        groupId,
        topics: [topics.enriched],
        maxBatch: maxMessagesPerBatch(settings.batchRows),
        maxWaitMs: settings.flushMs,
        transactionalInput: settings.transactionalInput ?? false,
        onAssign: async (topic, partitions) => {
          const next = await ingest.resume(topic, partitions);
          // From the stored rows, raised to what this instance passed itself if it had the partition
          // before (a rebalance back to it: its consumer resumes after what it handled).
          for (const p of partitions) positions.set(p, (await loadAgentPositions(store, topic, p, next.get(p) ?? Number.MAX_SAFE_INTEGER)).merged(positions.get(p)));
          assigned = true;
          logger.info({ topic, partitions, resume: Object.fromEntries(next) }, 'partitions assigned; resuming where the ledger says');
          return next;
        },
      });
      await consumer.run(handle);
      consumer.done.then(
        () => run.finish(),
        (err) => {
          own?.tollgate_sink_insert_failures_total.inc();
          logger.error({ err: errorMessage(err), fenced: err instanceof FencedError }, 'sink consumer failed');
          run.fail(err);
        },
      );
      logger.info({ topic: topics.enriched, groupId, batchRows: settings.batchRows, flushMs: settings.flushMs }, 'sink started');
    },
    stop,
  };
}
