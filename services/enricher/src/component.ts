// The enricher stage: flows.raw.v1 -> enrich -> flows.enriched.v1, one enriched message per
// raw message (key: the node). A message that cannot be decoded or enriched goes to
// `<raw topic>.dlq` with the reason and never blocks its partition; an invalid record goes there
// too and the rest of its message is enriched (validate.ts).
//
// Exactly once: a consume-transform-produce loop in Kafka transactions (Transport.transactional):
// a batch's enriched messages, its DLQ messages and the consumed offsets commit in one
// transaction, through a producer per input partition whose transactional id fences a zombie
// instance of the previous owner; the sink reads read_committed. A crash, a rebalance or a retried
// send at any moment commits the batch once or not at all, so several replicas run safely.
import type { Logger } from '@tollgate/log';
import { ZONE_LABEL, type InventorySource } from '@tollgate/kube';
import { dlqMessage, errorMessage, isPermanent, once, releaseMemory } from '@tollgate/pipeline';
import type { Component, InMessage, OutMessage, Produced, Producer, TopicNames, TransactionalConsumer, Transport } from '@tollgate/pipeline';
import { Family, type EnrichedFlowBatch, type RawFlowBatch, type SchemaRegistry } from '@tollgate/schema';
import { enrichBatch, newCounters, type EnrichContext, type EnrichCounters } from './enrich.ts';
import { validateRaw } from './validate.ts';

export const STAGE = 'enricher';

export interface EnricherDeps {
  transport: Transport;
  topics: TopicNames;
  registry: SchemaRegistry;
  logger: Logger;
  /** Owner index, classifier and the enricher settings. */
  context: EnrichContext;
  /** Feeds context.index; started (initial state delivered) before consuming, stopped last. */
  inventory?: InventorySource;
  groupId?: string;
  clientId?: string;
  /** Raw messages per handler call (default 100). */
  maxBatch?: number;
  /** Index entries older than this behind the slowest partition are forgotten (default 1 h). */
  retentionMs?: number;
  /** Kafka transactions (exactly once); default false: at-least-once (send, then commit). */
  transactions?: boolean;
  /** Prefix of the transactional ids (one per input partition); default: the group id. */
  transactionalIdPrefix?: string;
  /** Fault injection (crash tests): called with each batch's output before its transaction commits. */
  beforeCommit?: (produced: Produced[]) => void;
}

export interface EnricherStats extends EnrichCounters {
  /** Raw messages handled. */
  messages: number;
  /** Enriched messages produced. */
  produced: number;
  /** Raw messages with no local flow (nothing produced). */
  emptyMessages: number;
  /** Raw messages sent to the DLQ. */
  dlq: number;
  /** DLQ messages by reason class (decode, enrich). */
  dlqByReason: Record<string, number>;
  /** Produce attempts that failed, and the retries that followed. */
  produceErrors: number;
  produceRetries: number;
  inventoryEvents: number;
}

export interface Enricher extends Component {
  stats(): EnricherStats;
  /** Owner index sizes (metrics). */
  indexSize(): Record<string, number>;
  /** The address classifier's cache (metrics: hit rate). */
  cacheStats(): { hits: number; misses: number };
  /** Per `topic/partition`, the offset after the last raw message handled (metrics: lag). */
  positions(): ReadonlyMap<string, number>;
  /** Called with each handled batch's duration in seconds (metrics). */
  onBatch(fn: (seconds: number) => void): void;
  /** True once running (inventory synced, consuming), else the reason. */
  ready(): true | string;
  /** Settles when the consumer stops: rejects with the error that stopped it. */
  readonly done: Promise<void>;
}

export function createEnricher(deps: EnricherDeps): Enricher {
  const { transport, topics, registry, context } = deps;
  const log = deps.logger;
  const rawCodec = registry.codec<RawFlowBatch>(Family.raw);
  const outCodec = registry.codec<EnrichedFlowBatch>(Family.enriched);
  const counters = newCounters();
  const s = { messages: 0, produced: 0, emptyMessages: 0, dlq: 0, produceErrors: 0, produceRetries: 0 };
  const dlqByReason: Record<string, number> = {};
  const positions = new Map<string, number>();
  const batchHooks: Array<(seconds: number) => void> = [];
  let running = false;
  const clientId = deps.clientId ?? 'tollgate-enricher';
  const retention = deps.retentionMs ?? 3_600_000;
  /** Per partition, the newest window seen: the index forgets what is older than the slowest one. */
  const watermarks = new Map<string, number>();
  let handled = 0;
  let consumer: Pick<TransactionalConsumer, 'close' | 'done'> | undefined;
  let producer: Producer | undefined;
  let resolveDone!: () => void;
  let rejectDone!: (e: unknown) => void;
  const done = new Promise<void>((res, rej) => ((resolveDone = res), (rejectDone = rej)));
  done.catch(() => {});

  function toDlq(dlq: Map<string, OutMessage[]>, msg: InMessage, reason: string): void {
    const d = dlqMessage(msg, STAGE, reason);
    let l = dlq.get(d.topic);
    if (!l) dlq.set(d.topic, (l = []));
    l.push(d.message);
    s.dlq++;
    const cls = reason.slice(0, reason.indexOf(':') > 0 ? reason.indexOf(':') : undefined);
    dlqByReason[cls] = (dlqByReason[cls] ?? 0) + 1;
    log.warn({ topic: msg.topic, partition: msg.partition, offset: msg.offset, reason }, 'raw message sent to the DLQ');
  }

  async function handle(batch: InMessage[]): Promise<Produced[]> {
    const t0 = performance.now();
    const out: OutMessage[] = [];
    const dlq = new Map<string, OutMessage[]>();
    for (const msg of batch) {
      s.messages++;
      positions.set(`${msg.topic}/${msg.partition}`, msg.offset + 1);
      let raw: RawFlowBatch;
      try {
        raw = rawCodec.decode(msg.value);
      } catch (err) {
        if (!isPermanent(err)) throw err;
        toDlq(dlq, msg, `decode: ${errorMessage(err)}`);
        continue;
      }
      try {
        const v = validateRaw(raw);
        if (v.bad.length > 0) {
          const shown = v.bad.slice(0, 5).map((b) => `flow ${b.index}: ${b.reason}`).join('; ');
          toDlq(dlq, msg, `invalid: ${v.bad.length} of ${raw.flows.length} flows invalid (the rest enriched): ${shown}`);
        }
        raw = v.batch;
      } catch (err) {
        toDlq(dlq, msg, `invalid: ${errorMessage(err)}`);
        continue;
      }
      try {
        const enriched = enrichBatch(raw, { agent_id: raw.agent_id, seq: raw.seq, topic: msg.topic, partition: msg.partition, offset: msg.offset }, context, counters);
        const key = `${msg.topic}/${msg.partition}`;
        if ((watermarks.get(key) ?? -Infinity) < raw.window_start) watermarks.set(key, raw.window_start);
        if (enriched.flows.length === 0) {
          s.emptyMessages++;
          continue;
        }
        out.push({ key: raw.node, value: outCodec.encode(enriched) });
      } catch (err) {
        // Enrichment is deterministic: what fails once fails again, so it is permanent.
        toDlq(dlq, msg, `enrich: ${errorMessage(err)}`);
      }
    }
    const produced: Produced[] = [];
    if (out.length) produced.push({ topic: topics.enriched, messages: out });
    for (const [topic, messages] of dlq) produced.push({ topic, messages });
    deps.beforeCommit?.(produced);
    s.produced += out.length;
    for (const fn of batchHooks) fn((performance.now() - t0) / 1000);
    if (++handled % 64 === 0 && watermarks.size) {
      context.index.prune(Math.min(...watermarks.values()) - retention);
    }
    return produced;
  }

  return {
    name: STAGE,
    done,
    stats: () => ({ ...counters, ...s, dlqByReason: { ...dlqByReason }, inventoryEvents: context.index.events }),
    indexSize: () => context.index.size(),
    cacheStats: () => ({ hits: context.classifier.hits, misses: context.classifier.misses }),
    positions: () => positions,
    onBatch: (fn) => void batchHooks.push(fn),
    ready: () => (running ? true : 'inventory syncing or consumer starting'),
    async start() {
      if (deps.inventory) {
        await deps.inventory.start((e) => context.index.apply(e));
        log.info({ source: deps.inventory.name, ...context.index.size() }, 'inventory synced');
        releaseMemory(); // the initial lists' garbage and committed heap (20,000 pods: 292 -> 207 MB resident)
        const z = context.index.zoneCoverage();
        if (z.nodes > 0 && z.zoned === 0) log.warn({ nodes: z.nodes }, `no node carries the ${ZONE_LABEL} label: every in-cluster byte will look same-zone`);
        else if (z.zoned < z.nodes) log.warn({ nodes: z.nodes, zoned: z.zoned }, `some nodes carry no ${ZONE_LABEL} label: their traffic counts as cross-zone`);
      }
      const groupId = deps.groupId ?? 'tollgate-enricher';
      if (deps.transactions) {
        const tc = await transport.transactional(clientId, { groupId, topics: [topics.raw], maxBatch: deps.maxBatch ?? 100, transactionalIdPrefix: deps.transactionalIdPrefix ?? groupId });
        consumer = tc;
        await tc.run(handle);
      } else {
        // At least once: the batch's output is sent (acknowledged), then the consumer commits.
        const p = (producer = await transport.producer(clientId));
        const c = await transport.consumer(clientId, { groupId, topics: [topics.raw], maxBatch: deps.maxBatch ?? 100 });
        consumer = c;
        await c.run(async (batch) => {
          for (const o of await handle(batch)) {
            try {
              await p.send(o.topic, o.messages);
            } catch (err) {
              s.produceErrors++;
              throw err;
            }
          }
        });
      }
      consumer.done.then(resolveDone, (err) => {
        log.error({ err: errorMessage(err) }, 'enricher consumer stopped');
        rejectDone(err);
      });
      running = true;
      log.info({ topic: topics.raw, out: topics.enriched }, 'enricher started');
    },
    stop: once(async () => {
      running = false;
      await consumer?.close();
      await producer?.close();
      await deps.inventory?.stop();
      resolveDone();
      log.info({ ...counters, ...s }, 'enricher stopped');
    }),
  };
}
