// The Transport on @platformatic/kafka. Its consumer is a stream of single messages; this
// adapter groups them per partition, hands one partition's batch at a time to the handler and
// commits (offset+1 of the last message) only after the handler resolved.
import {
  Admin,
  Consumer as PltConsumer,
  Producer as PltProducer,
  FetchIsolationLevels,
  ProduceAcks,
  findErrorBy,
  stringDeserializer,
  stringSerializer,
  type Message,
  type MessagesStream,
  type ConsumerGroupJoinPayload,
} from '@platformatic/kafka';
import type { Logger } from '@tollgate/log';
import type { BatchHandler, Consumer, ConsumerOptions, InMessage, Producer, TransactionalConsumer, TransactionalOptions, TransformHandler, Transport } from '@tollgate/pipeline';
import { dropAbortedRecords, type FetchResponseLike } from './aborted.ts';
import { StartFloors, Wakeup, chunkBySize, deferred, headersToRecord, serialProducer, describeError, isFencedError, isRebalanceError, waitForLeaders, type TransportTuning } from './common.ts';

type Msg = Message<string, Buffer, string, string>;

interface Queued {
  message: InMessage;
  /** The client's message (its consumer metadata: group generation and member, for a transaction's offsets). */
  raw: Msg;
  leaderEpoch: number;
  /** Arrival (ms): a partial batch lingers maxWaitMs after its first message. */
  at: number;
}

/** Per-partition FIFO queues, taken from in round-robin order. */
class PartitionQueues {
  private readonly queues = new Map<string, Queued[]>();
  private cursor = 0;
  size = 0;

  push(key: string, q: Queued): void {
    let list = this.queues.get(key);
    if (!list) this.queues.set(key, (list = []));
    list.push(q);
    this.size++;
  }

  /**
   * The next partition's batch in round-robin order among the ready ones: at least `max`
   * messages, or a first message that arrived at or before `lingerBefore`. Else the arrival time
   * of the oldest first message (when the next partition becomes ready), if any is queued.
   */
  take(max: number, lingerBefore = Infinity): { batch?: Queued[]; wakeAt?: number } | undefined {
    const keys = [...this.queues.keys()];
    let wakeAt: number | undefined;
    for (let i = 0; i < keys.length; i++) {
      const key = keys[(this.cursor + i) % keys.length]!;
      const list = this.queues.get(key)!;
      if (list.length === 0) continue;
      if (list.length < max && list[0]!.at > lingerBefore) {
        wakeAt = Math.min(wakeAt ?? Infinity, list[0]!.at);
        continue;
      }
      this.cursor = (this.cursor + i + 1) % keys.length;
      const out = list.splice(0, max);
      this.size -= out.length;
      return { batch: out };
    }
    return wakeAt === undefined ? undefined : { wakeAt };
  }

  isEmpty(key: string): boolean {
    return (this.queues.get(key)?.length ?? 0) === 0;
  }

  /** Puts a batch back at the head of its partition's queue (a transaction to try again). */
  requeue(key: string, items: Queued[]): void {
    const list = this.queues.get(key) ?? [];
    this.queues.set(key, [...items, ...list]);
    this.size += items.length;
  }

  clear(): void {
    this.queues.clear();
    this.size = 0;
  }
}

export class PlatformaticTransport implements Transport {
  readonly name = 'kafka (@platformatic/kafka)';
  private readonly admin: Admin;
  private readonly open = new Set<{ close(): Promise<void> }>();
  private closed = false;
  private readonly brokers: string[];
  private readonly clientId: string;
  private readonly logger: Logger;
  private readonly tuning: TransportTuning;

  constructor(brokers: string[], clientId: string, logger: Logger, tuning: TransportTuning) {
    this.brokers = brokers;
    this.clientId = clientId;
    this.logger = logger;
    this.tuning = tuning;
    this.admin = new Admin({ clientId: `${clientId}-admin`, bootstrapBrokers: brokers, timeout: 10_000, retries: 2, retryDelay: 500, connectTimeout: 5_000 });
  }

  /** A metadata round trip: proves the broker speaks Kafka. */
  async ping(): Promise<void> {
    await this.admin.metadata({ topics: [] });
  }

  async ensureTopics(topics: string[], partitions: number): Promise<void> {
    const existing = new Set(await this.admin.listTopics());
    const missing = [...new Set(topics)].filter((t) => !existing.has(t));
    if (missing.length === 0) return;
    try {
      await this.admin.createTopics({ topics: missing, partitions, replicas: -1 });
      this.logger.info({ topics: missing, partitions }, 'created Kafka topics');
    } catch (err) {
      // Another process may have created some of them meanwhile; anything else is real.
      if (!findErrorBy(err as Error, 'apiId', 'TOPIC_ALREADY_EXISTS')) throw err;
      const now = new Set(await this.admin.listTopics());
      const still = missing.filter((t) => !now.has(t));
      if (still.length > 0) throw err;
    }
    await waitForLeaders(async () => {
      const md = await this.admin.metadata({ topics: missing, forceUpdate: true });
      return missing.every((t) => {
        const topic = md.topics.get(t);
        return topic !== undefined && topic.partitions.length > 0 && topic.partitions.every((p) => p.leader >= 0);
      });
    }, missing);
  }

  async producer(clientId: string): Promise<Producer> {
    const client = new PltProducer<string, Buffer, string, string>({
      clientId: `${this.clientId}-${clientId}`,
      bootstrapBrokers: this.brokers,
      idempotent: true,
      acks: ProduceAcks.ALL,
      autocreateTopics: false,
      timeout: 30_000,
      retries: 5,
      retryDelay: 500,
      serializers: { key: stringSerializer, headerKey: stringSerializer, headerValue: stringSerializer },
    });
    const producer: Producer = serialProducer({
      name: clientId,
      maxBytes: this.tuning.maxRequestBytes,
      sendChunk: (topic, chunk) => client.send({ messages: chunk.map((m) => ({ topic, key: m.key, value: m.value, headers: m.headers ?? {} })) }),
      closeClient: () => client.close(),
      onClose: () => this.open.delete(producer),
    });
    this.open.add(producer);
    return producer;
  }

  async consumer(clientId: string, options: ConsumerOptions): Promise<Consumer> {
    const c = new PlatformaticConsumer(this.brokers, `${this.clientId}-${clientId}`, options, this.logger, this.tuning);
    this.open.add(c);
    c.done.then(
      () => this.open.delete(c),
      () => this.open.delete(c),
    );
    return c;
  }

  async transactional(clientId: string, options: TransactionalOptions): Promise<TransactionalConsumer> {
    const c = new PlatformaticConsumer(this.brokers, `${this.clientId}-${clientId}`, options, this.logger, this.tuning, (transactionalId) =>
      new PltProducer<string, Buffer, string, string>({
        clientId: `${this.clientId}-${clientId}-tx`,
        bootstrapBrokers: this.brokers,
        idempotent: true,
        transactionalId,
        // InitProducerId of a new producer must say "none" (-1/-1): the client's default (0/0) reads
        // as a re-init of producer 0, which the broker refuses as fenced once the id has an owner.
        producerId: -1n,
        producerEpoch: -1,
        acks: ProduceAcks.ALL,
        autocreateTopics: false,
        timeout: 30_000,
        retries: 5,
        retryDelay: 500,
        serializers: { key: stringSerializer, headerKey: stringSerializer, headerValue: stringSerializer },
      }),
    );
    this.open.add(c);
    c.done.then(
      () => this.open.delete(c),
      () => this.open.delete(c),
    );
    return { done: c.done, run: (h) => c.runTransactional(h), close: () => c.close() };
  }

  async committed(groupId: string, topic: string): Promise<Map<number, number>> {
    const out = new Map<number, number>();
    const groups = await this.admin.listConsumerGroupOffsets({ groups: [groupId] });
    for (const g of groups) {
      for (const t of g.topics) {
        if (t.name !== topic) continue;
        for (const p of [...t.partitions].sort((a, b) => a.partitionIndex - b.partitionIndex)) if (p.committedOffset >= 0n) out.set(p.partitionIndex, Number(p.committedOffset));
      }
    }
    return out;
  }

  async endOffsets(topic: string): Promise<Map<number, number>> {
    const md = await this.admin.metadata({ topics: [topic] });
    const count = md.topics.get(topic)?.partitionsCount ?? 0;
    const listed = await this.admin.listOffsets({
      topics: [{ name: topic, partitions: Array.from({ length: count }, (_, i) => ({ partitionIndex: i, timestamp: -1n })) }],
    });
    const out = new Map<number, number>();
    for (const t of listed) for (const p of [...t.partitions].sort((a, b) => a.partitionIndex - b.partitionIndex)) out.set(p.partitionIndex, Number(p.offset));
    return out;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.allSettled([...this.open].map((c) => c.close()));
    await this.admin.close();
  }
}

class PlatformaticConsumer implements Consumer {
  readonly done: Promise<void>;
  private readonly settle = deferred<void>();
  private readonly client: PltConsumer<string, Buffer, string, string>;
  private stream: MessagesStream<string, Buffer, string, string> | undefined;
  private readonly queues = new PartitionQueues();
  private readonly floors = new StartFloors();
  /** Next offset per partition after what this consumer handled and committed (commits never go back). */
  private readonly handled = new Map<string, number>();
  /** Highest offset per partition of any record the stream delivered, kept or set aside. */
  private readonly delivered = new Map<string, number>();
  /** The offset this consumer last committed per partition (below `handled` while the handler holds a re-read). */
  private readonly committedAt = new Map<string, number>();
  private assigned = new Set<string>();
  private generation = -1;
  /** After a (re)join, until the stream has re-read the committed offsets, what it emits is stale. */
  private awaitingOffsets = true;
  private readonly wake = new Wakeup();
  private readonly maxBatch: number;
  private readonly maxWaitMs: number;
  private readonly maxRequestBytes: number;
  private readonly highWater: number;
  private pausedByUs = false;
  private closing = false;
  private loop: Promise<void> | undefined;
  private closePromise: Promise<void> | undefined;
  private failure: unknown;
  private readonly options: ConsumerOptions;
  private readonly logger: Logger;

  /** Transactional mode: a producer per input partition, `<prefix>-<topic>-<partition>`. */
  private readonly makeTxProducer: ((transactionalId: string) => PltProducer<string, Buffer, string, string>) | undefined;
  private readonly txProducers = new Map<string, PltProducer<string, Buffer, string, string>>();
  private transform: TransformHandler | undefined;
  private transactions = 0;

  constructor(
    brokers: string[],
    clientId: string,
    options: ConsumerOptions,
    logger: Logger,
    tuning: TransportTuning,
    makeTxProducer?: (transactionalId: string) => PltProducer<string, Buffer, string, string>,
  ) {
    this.makeTxProducer = makeTxProducer;
    this.options = options;
    this.logger = logger;
    this.done = this.settle.promise;
    this.done.catch(() => {});
    this.maxBatch = options.maxBatch ?? 100;
    this.maxWaitMs = options.maxWaitMs ?? 500;
    this.maxRequestBytes = tuning.maxRequestBytes;
    this.highWater = Math.max(this.maxBatch * 2, 64);
    this.client = new PltConsumer<string, Buffer, string, string>({
      clientId,
      groupId: options.groupId,
      bootstrapBrokers: brokers,
      autocommit: false,
      sessionTimeout: 10_000,
      rebalanceTimeout: 30_000,
      heartbeatInterval: 1_000,
      minBytes: 1,
      maxWaitTime: this.maxWaitMs,
      maxBytes: tuning.fetchMaxBytes,
      maxBytesPerPartition: tuning.fetchMaxBytesPerPartition,
      highWaterMark: Math.max(this.maxBatch, 16),
      // Only committed transactions' messages (the enricher's output is transactional).
      isolationLevel: FetchIsolationLevels.READ_COMMITTED,
      timeout: 30_000,
      retries: 5,
      retryDelay: 500,
      deserializers: { key: stringDeserializer, headerKey: stringDeserializer, headerValue: stringDeserializer },
    });
    // Registered before consume() so it runs before the stream's own listener on every join.
    this.client.on('consumer:group:join', (payload: ConsumerGroupJoinPayload) => this.onJoin(payload));
    // Aborted transactions' records out of every fetch the stream makes (aborted.ts: the client
    // keeps those whose abort marker is not in the same response).
    const fetch = this.client.fetch.bind(this.client) as (options: unknown, callback: (err: unknown, res?: FetchResponseLike) => void) => void;
    (this.client as unknown as { fetch: unknown }).fetch = (options: unknown, callback?: (err: unknown, res?: FetchResponseLike) => void) => {
      if (!callback) throw new Error('platformatic adapter: fetch without a callback');
      fetch(options, (err, res) => {
        if (!err && res) {
          const n = dropAbortedRecords(res);
          if (n > 0) this.logger.debug({ records: n }, 'records of aborted transactions dropped');
        }
        callback(err, res);
      });
    };
  }

  private onJoin(payload: ConsumerGroupJoinPayload): void {
    this.generation = payload.generationId ?? this.client.generationId;
    const assignment = new Map<string, number[]>();
    for (const a of payload.assignments ?? this.client.assignments ?? []) assignment.set(a.topic, a.partitions);
    this.assigned = new Set([...assignment].flatMap(([t, ps]) => ps.map((p) => `${t}:${p}`)));
    // The stream restarts from the committed offsets after a join; what we hold is re-fetched.
    // Not for a partition the group never committed: there the stream (2.12.1: #assignOffsets
    // fills in the fallback only for a partition it has no position for) would go on from its
    // fetch position, past what it delivered before the join and we set aside, and the first
    // commit after it would skip those records for good. Forgetting the positions here (this
    // listener runs before the stream's own) makes it take the committed offset or, without one,
    // the earliest: a re-read, never a gap.
    this.stream?.offsetsToFetch.clear();
    this.queues.clear();
    this.awaitingOffsets = true;
    this.logger.debug({ group: this.options.groupId, generation: this.generation, assignment: Object.fromEntries(assignment) }, 'kafka consumer joined');
    this.floors.assign(this.options.onAssign, assignment).catch((err) => this.fail(err));
    // A partition may have moved and back: its producer may be fenced. Fresh ones per assignment.
    this.dropTxProducers();
    this.wake.wake();
  }

  private dropTxProducers(): void {
    for (const p of this.txProducers.values()) p.close().catch((err: unknown) => this.logger.debug({ err: describeError(err) }, 'transactional producer close'));
    this.txProducers.clear();
  }

  async runTransactional(handler: TransformHandler): Promise<void> {
    if (!this.makeTxProducer) throw new Error('not a transactional consumer');
    this.transform = handler;
    await this.run(async () => {
      throw new Error('unreachable: a transactional consumer dispatches through its transform');
    });
  }

  /**
   * One transaction: the handler's output and offset+1 of the batch's last message, through the
   * input partition's transactional producer. A rebalance while it runs aborts it (the new owner
   * re-reads the batch); any other failure aborts it and stops the consumer.
   */
  private async transact(key: string, messages: InMessage[], last: Queued, generation: number): Promise<boolean> {
    const out = await this.transform!(messages);
    let producer = this.txProducers.get(key);
    if (!producer) {
      const m = last.message;
      producer = this.makeTxProducer!(`${(this.options as TransactionalOptions).transactionalIdPrefix}-${m.topic}-${m.partition}`);
      this.txProducers.set(key, producer);
    }
    let tx: Awaited<ReturnType<typeof producer.beginTransaction>> | undefined;
    try {
      tx = await producer.beginTransaction();
      for (const o of out) {
        for (const chunk of chunkBySize(o.messages, this.maxRequestBytes)) {
          await tx.send({ messages: chunk.map((m) => ({ topic: o.topic, key: m.key, value: m.value, headers: m.headers ?? {} })) });
        }
      }
      await (this.options as TransactionalOptions).afterProduce?.(++this.transactions);
      await tx.addConsumer(this.client);
      await tx.addOffset(last.raw);
      await tx.commit();
    } catch (err) {
      await tx?.abort().catch(() => {});
      this.txProducers.delete(key);
      await producer.close().catch(() => {});
      if (generation !== this.generation || isRebalanceError(err) || isFencedError(err)) {
        this.logger.warn({ partition: key, err: describeError(err) }, 'kafka transaction aborted (rebalance, fence or a transaction still being aborted); the batch goes again');
        return false;
      }
      throw err;
    }
    this.handled.set(key, last.message.offset + 1);
    return true;
  }

  async run(handler: BatchHandler): Promise<void> {
    if (this.loop) throw new Error('consumer already running');
    const stream = await this.client.consume({
      topics: this.options.topics,
      mode: 'committed',
      fallbackMode: 'earliest',
      autocommit: false,
    });
    this.stream = stream;
    stream.on('offsets', () => {
      this.awaitingOffsets = false;
      this.wake.wake();
    });
    stream.on('data', (m: Msg) => this.onMessage(m));
    stream.on('error', (err: Error) => this.fail(err));
    this.loop = this.dispatch(handler);
    this.loop.then(
      () => this.shutdown(),
      (err) => this.fail(err),
    );
  }

  private onMessage(m: Msg): void {
    const key = `${m.topic}:${m.partition}`;
    const meta = m.metadata as { consumer?: { generationId?: number } } | undefined;
    this.delivered.set(key, Math.max(this.delivered.get(key) ?? -1, Number(m.offset)));
    if (this.awaitingOffsets || !this.assigned.has(key) || (meta?.consumer?.generationId ?? this.generation) !== this.generation) return;
    const offset = Number(m.offset);
    if (offset < (this.handled.get(key) ?? 0)) return;
    this.queues.push(key, {
      message: { topic: m.topic, partition: m.partition, offset, key: m.key ?? '', value: m.value ?? Buffer.alloc(0), headers: headersToRecord(m.headerEntries) },
      raw: m,
      leaderEpoch: m.leaderEpoch,
      at: Date.now(),
    });
    if (!this.pausedByUs && this.queues.size >= this.highWater) {
      this.pausedByUs = true;
      this.stream?.pause();
    }
    this.wake.wake();
  }

  private maybeResume(): void {
    if (this.pausedByUs && this.queues.size < this.highWater / 2 && !this.closing) {
      this.pausedByUs = false;
      this.stream?.resume();
    }
  }

  private async dispatch(handler: BatchHandler): Promise<void> {
    while (!this.closing) {
      await this.floors.wait();
      if (this.closing) break;
      const generation = this.generation;
      // Linger: a partition's partial batch waits up to maxWaitMs after its first message for more
      // (fuller chunks downstream); a full one goes at once.
      const ready = this.awaitingOffsets ? undefined : this.queues.take(this.maxBatch, Date.now() - this.maxWaitMs);
      const taken = ready?.batch;
      if (!taken && ready?.wakeAt !== undefined) {
        this.maybeResume();
        await this.wake.wait(Math.max(1, ready.wakeAt + this.maxWaitMs - Date.now()));
        continue;
      }
      this.maybeResume();
      if (!taken) {
        if (this.options.transactionalInput) await this.commitPastMarkers(generation);
        await this.wake.wait(this.maxWaitMs);
        continue;
      }
      const first = taken[0]!.message;
      const key = `${first.topic}:${first.partition}`;
      const messages = this.floors.filter(taken.map((q) => q.message)).filter((m) => m.offset >= (this.handled.get(key) ?? 0));
      if (messages.length === 0) continue;
      if (this.transform) {
        if (!(await this.transact(key, messages, taken[taken.length - 1]!, generation)) && generation === this.generation) {
          // Still ours: the same batch again, with a fresh producer, after a pause (an aborting
          // transaction of the previous owner answers CONCURRENT_TRANSACTIONS for a moment).
          this.queues.requeue(key, taken);
          await this.wake.wait(500);
        }
        continue;
      }
      const held = await handler(messages);
      const last = messages[messages.length - 1]!;
      const next = last.offset + 1;
      let commit = typeof held === 'number' ? Math.min(held, next) : next;
      // Transaction markers after the last record (a transactional producer upstream) take offsets
      // no record has: when everything fetched of this partition is handled, commit the fetch
      // position past them, so a caught-up group's committed offset reaches the partition's end.
      // Only for a transactional input, and only if no record the stream delivered of this partition
      // was set aside (a stale fetch around a rejoin): the fetch position is past those too.
      if (this.options.transactionalInput && commit === next && (this.delivered.get(key) ?? -1) < next && this.queues.isEmpty(key) && !this.pausedByUs && this.stream?.readableLength === 0) {
        const fetched = this.stream.offsetsToFetch.get(key);
        if (fetched !== undefined && Number(fetched) > next && generation === this.generation) commit = Number(fetched);
      }
      try {
        await this.client.commit({
          offsets: [{ topic: last.topic, partition: last.partition, offset: BigInt(commit), leaderEpoch: taken[taken.length - 1]!.leaderEpoch }],
        });
        this.handled.set(key, next);
        this.committedAt.set(key, commit);
      } catch (err) {
        if (generation === this.generation && !isRebalanceError(err)) throw err;
        // The partition was rebalanced while the batch was in hand: its new owner re-reads it.
        this.logger.warn({ topic: last.topic, partition: last.partition, offset: next, err: describeError(err) }, 'kafka commit lost to a rebalance; the batch will be delivered again');
      }
    }
  }

  /**
   * Idle, on a transactional input: a partition whose last records were followed by transaction
   * markers (or aborted records, dropped) is committed up to the fetch position, so a caught-up
   * group's committed offset reaches the end offset. Only where everything handled is committed
   * (no re-read held), nothing is queued or buffered, and no record the stream delivered is
   * unhandled: between the handled offset and the fetch position there are no records to lose.
   */
  private async commitPastMarkers(generation: number): Promise<void> {
    const stream = this.stream;
    if (!stream || this.awaitingOffsets || this.pausedByUs || stream.readableLength > 0) return;
    for (const key of this.assigned) {
      const handled = this.handled.get(key);
      if (handled === undefined || this.committedAt.get(key) !== handled || !this.queues.isEmpty(key) || (this.delivered.get(key) ?? -1) >= handled) continue;
      const fetched = stream.offsetsToFetch.get(key);
      if (fetched === undefined || Number(fetched) <= handled || generation !== this.generation) continue;
      const cut = key.lastIndexOf(':');
      const offset = Number(fetched);
      try {
        await this.client.commit({ offsets: [{ topic: key.slice(0, cut), partition: Number(key.slice(cut + 1)), offset: fetched, leaderEpoch: -1 }] });
        this.handled.set(key, offset);
        this.committedAt.set(key, offset);
      } catch (err) {
        if (!isRebalanceError(err)) throw err;
        return;
      }
    }
  }

  private fail(err: unknown): void {
    if (this.failure !== undefined) return;
    this.failure = err ?? new Error('kafka consumer failed');
    this.closing = true;
    this.wake.wake();
    void this.shutdown();
  }

  private shutdown(): Promise<void> {
    if (!this.closePromise) {
      this.closing = true;
      this.wake.wake();
      this.closePromise = (async () => {
        await this.loop?.catch(() => {});
        try {
          await this.stream?.close();
        } catch (err) {
          this.logger.debug({ err: describeError(err) }, 'kafka consumer stream close');
        }
        try {
          await this.client.close();
        } catch (err) {
          this.logger.debug({ err: describeError(err) }, 'kafka consumer close');
        }
        this.dropTxProducers();
        if (this.failure !== undefined) this.settle.reject(this.failure);
        else this.settle.resolve();
      })();
    }
    return this.closePromise;
  }

  async close(): Promise<void> {
    await this.shutdown();
  }
}
