// The Transport on kafkajs. Its eachBatch already hands one partition's fetched messages at a
// time; this adapter splits them into handler calls of at most maxBatch messages and commits
// offset+1 of each call's last message after the handler resolved. On a transactional input it
// also commits past the transaction markers (offsets no record has) once everything before them is
// handled and committed, so a caught-up group's committed offset reaches the end offset.
import kafkajs from 'kafkajs';
import type { Admin, ConsumerEndBatchProcessEvent, Consumer as KjsConsumer, EachBatchPayload, KafkaMessage, LogEntry, Producer as KjsProducer, Kafka as KafkaClient } from 'kafkajs';
import type { Logger } from '@tollgate/log';
import type { BatchHandler, Consumer, ConsumerOptions, InMessage, Producer, TransactionalConsumer, TransactionalOptions, TransformHandler, Transport } from '@tollgate/pipeline';
import { retry } from '@tollgate/pipeline';
import { StartFloors, chunkBySize, deferred, headersToRecord, serialProducer, describeError, isFencedError, isRebalanceError, type TransportTuning } from './common.ts';

const { Kafka, logLevel, Partitioners } = kafkajs;

/** kafkajs logs through pino at debug (it is chatty, and Tollgate reports what matters itself). */
function logCreator(logger: Logger) {
  return () =>
    ({ namespace, log }: LogEntry) => {
      const { message, ...rest } = log;
      logger.debug({ kafkajs: namespace, ...rest }, String(message));
    };
}

function toInMessage(topic: string, partition: number, m: KafkaMessage): InMessage {
  const headers: Array<[string, unknown]> = [];
  for (const [k, v] of Object.entries(m.headers ?? {})) headers.push([k, Array.isArray(v) ? v[v.length - 1] : v]);
  return {
    topic,
    partition,
    offset: Number(m.offset),
    key: m.key ? m.key.toString('utf8') : '',
    value: m.value ?? Buffer.alloc(0),
    headers: headersToRecord(headers),
  };
}

export class KafkajsTransport implements Transport {
  readonly name = 'kafka (kafkajs)';
  private readonly kafka: KafkaClient;
  private readonly admin: Admin;
  private readonly brokers: string[];
  private readonly clientId: string;
  private readonly open = new Set<{ close(): Promise<void> }>();
  private adminConnected = false;
  private closed = false;
  private readonly logger: Logger;
  private readonly tuning: TransportTuning;

  constructor(brokers: string[], clientId: string, logger: Logger, tuning: TransportTuning) {
    this.logger = logger;
    this.tuning = tuning;
    this.brokers = brokers;
    this.clientId = clientId;
    this.kafka = this.client('admin');
    this.admin = this.kafka.admin({ retry: { retries: 2, initialRetryTime: 300, maxRetryTime: 2_000 } });
  }

  /** kafkajs names connections per Kafka instance: one per producer and consumer. */
  private client(name: string): KafkaClient {
    return new Kafka({
      clientId: `${this.clientId}-${name}`,
      brokers: this.brokers,
      connectionTimeout: 5_000,
      requestTimeout: 30_000,
      retry: { retries: 5, initialRetryTime: 300, maxRetryTime: 5_000 },
      logLevel: this.logger.isLevelEnabled('debug') ? logLevel.INFO : logLevel.NOTHING,
      logCreator: logCreator(this.logger),
    });
  }

  /** Connects the admin client and reads metadata: proves the broker speaks Kafka. */
  async ping(): Promise<void> {
    if (!this.adminConnected) {
      await this.admin.connect();
      this.adminConnected = true;
    }
    await this.admin.listTopics();
  }

  async ensureTopics(topics: string[], partitions: number): Promise<void> {
    const existing = new Set(await this.admin.listTopics());
    const missing = [...new Set(topics)].filter((t) => !existing.has(t));
    if (missing.length === 0) return;
    try {
      await this.admin.createTopics({ topics: missing.map((topic) => ({ topic, numPartitions: partitions, replicationFactor: -1 })), waitForLeaders: true, timeout: 15_000 });
      this.logger.info({ topics: missing, partitions }, 'created Kafka topics');
    } catch (err) {
      // Another process may have created some of them meanwhile; anything else is real.
      const now = new Set(await this.admin.listTopics());
      if (missing.some((t) => !now.has(t))) throw err;
    }
  }

  async producer(clientId: string): Promise<Producer> {
    const client: KjsProducer = this.client(clientId).producer({
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
      createPartitioner: Partitioners.DefaultPartitioner,
    });
    await client.connect();
    const producer: Producer = serialProducer({
      name: clientId,
      maxBytes: this.tuning.maxRequestBytes,
      sendChunk: (topic, chunk) =>
        client.send({ topic, acks: -1, timeout: 30_000, messages: chunk.map((m) => ({ key: m.key, value: m.value, headers: m.headers ?? {} })) }),
      closeClient: () => client.disconnect(),
      onClose: () => this.open.delete(producer),
    });
    this.open.add(producer);
    return producer;
  }

  async consumer(clientId: string, options: ConsumerOptions): Promise<Consumer> {
    const c = new KafkajsConsumer(this.client(clientId), options, this.logger, this.tuning);
    this.open.add(c);
    c.done.then(
      () => this.open.delete(c),
      () => this.open.delete(c),
    );
    return c;
  }

  async transactional(clientId: string, options: TransactionalOptions): Promise<TransactionalConsumer> {
    const kafka = this.client(clientId);
    const c = new KafkajsConsumer(kafka, options, this.logger, this.tuning, (transactionalId) =>
      kafka.producer({ transactionalId, idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false, createPartitioner: Partitioners.DefaultPartitioner }),
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
    const res = await this.admin.fetchOffsets({ groupId, topics: [topic] });
    for (const t of res) for (const p of [...t.partitions].sort((a, b) => a.partition - b.partition)) if (Number(p.offset) >= 0) out.set(p.partition, Number(p.offset));
    return out;
  }

  async endOffsets(topic: string): Promise<Map<number, number>> {
    // Right after a topic is created its leaders may still move (NOT_LEADER_FOR_PARTITION): retry.
    const res = await retry(() => this.admin.fetchTopicOffsets(topic), { attempts: 6, baseMs: 100, maxMs: 2_000 });
    return new Map(res.map((p) => [p.partition, Number(p.high)] as const).sort((a, b) => a[0] - b[0]));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.allSettled([...this.open].map((c) => c.close()));
    await this.admin.disconnect();
  }
}

class KafkajsConsumer implements Consumer {
  readonly done: Promise<void>;
  private readonly settle = deferred<void>();
  private readonly joined = deferred<void>();
  private readonly client: KjsConsumer;
  private readonly floors = new StartFloors();
  private readonly maxBatch: number;
  private readonly options: ConsumerOptions;
  private readonly logger: Logger;
  private stopping = false;
  private running = false;
  private failure: unknown;
  private closePromise: Promise<void> | undefined;

  /** Transactional mode: a producer per input partition, `<prefix>-<topic>-<partition>`. */
  private readonly makeTxProducer: ((transactionalId: string) => KjsProducer) | undefined;
  private readonly txProducers = new Map<string, Promise<KjsProducer>>();
  private transform: TransformHandler | undefined;
  private transactions = 0;
  private readonly maxRequestBytes: number;
  /**
   * Per partition, in this generation: the offset after the last record resolved (kafkajs's next
   * fetch position) and the offset last committed. Equal: nothing handled is held uncommitted.
   */
  private readonly positions = new Map<string, { resolved: number; committed: number }>();
  /** Commits past markers made outside eachBatch, in order; eachBatch's own commits wait for them. */
  private markerCommits: Promise<void> = Promise.resolve();

  constructor(kafka: KafkaClient, options: ConsumerOptions, logger: Logger, tuning: TransportTuning, makeTxProducer?: (transactionalId: string) => KjsProducer) {
    this.makeTxProducer = makeTxProducer;
    this.maxRequestBytes = tuning.maxRequestBytes;
    this.options = options;
    this.logger = logger;
    this.done = this.settle.promise;
    this.done.catch(() => {});
    this.joined.promise.catch(() => {});
    this.maxBatch = options.maxBatch ?? 100;
    this.client = kafka.consumer({
      groupId: options.groupId,
      sessionTimeout: 30_000,
      rebalanceTimeout: 60_000,
      heartbeatInterval: 3_000,
      maxWaitTimeInMs: options.maxWaitMs ?? 500,
      minBytes: 1,
      maxBytes: tuning.fetchMaxBytes,
      maxBytesPerPartition: tuning.fetchMaxBytesPerPartition,
      allowAutoTopicCreation: false,
      // Only committed transactions' messages (the enricher's output is transactional).
      readUncommitted: false,
      // A failure surfaces in `done`; the caller decides to restart.
      retry: { retries: 5, initialRetryTime: 300, maxRetryTime: 5_000, restartOnFailure: async () => false },
    });
    this.client.on(this.client.events.GROUP_JOIN, (e) => {
      const assignment = new Map<string, number[]>(Object.entries(e.payload.memberAssignment));
      this.logger.debug({ group: options.groupId, assignment: e.payload.memberAssignment }, 'kafka consumer joined');
      this.floors.assign(this.options.onAssign, assignment).catch((err) => this.fail(err));
      // A partition may have moved and back: its producer may be fenced. Fresh ones per assignment.
      this.dropTxProducers();
      // kafkajs starts again from the committed offsets: what this member knew of positions is void.
      this.positions.clear();
      this.joined.resolve();
    });
    if (options.transactionalInput) this.client.on(this.client.events.END_BATCH_PROCESS, (e) => this.onBatchEnd(e));
    this.client.on(this.client.events.CRASH, (e) => {
      if (!e.payload.restart) this.fail(e.payload.error);
    });
  }

  async run(handler: BatchHandler): Promise<void> {
    if (this.running) throw new Error('consumer already running');
    this.running = true;
    await this.client.connect();
    await this.client.subscribe({ topics: this.options.topics, fromBeginning: true });
    await this.client.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: 1,
      eachBatch: (payload) => this.eachBatch(handler, payload),
    });
    await Promise.race([this.joined.promise, this.done]);
  }

  async runTransactional(handler: TransformHandler): Promise<void> {
    if (!this.makeTxProducer) throw new Error('not a transactional consumer');
    this.transform = handler;
    await this.run(async () => {
      throw new Error('unreachable: a transactional consumer dispatches through its transform');
    });
  }

  private dropTxProducers(): void {
    for (const p of this.txProducers.values()) p.then((x) => x.disconnect()).catch((err: unknown) => this.logger.debug({ err: describeError(err) }, 'transactional producer close'));
    this.txProducers.clear();
  }

  private txProducer(topic: string, partition: number): Promise<KjsProducer> {
    const key = `${topic}:${partition}`;
    let p = this.txProducers.get(key);
    if (!p) {
      const producer = this.makeTxProducer!(`${(this.options as TransactionalOptions).transactionalIdPrefix}-${topic}-${partition}`);
      p = producer.connect().then(() => producer);
      p.catch(() => this.txProducers.delete(key));
      this.txProducers.set(key, p);
    }
    return p;
  }

  /** One transaction: the output and offset+1 of the last message. False: aborted by a rebalance or a fence (the batch is delivered again). */
  private async transact(topic: string, partition: number, messages: InMessage[], last: InMessage): Promise<boolean> {
    const out = await this.transform!(messages);
    let producer: KjsProducer;
    try {
      producer = await this.txProducer(topic, partition);
    } catch (err) {
      if (isRebalanceError(err) || isFencedError(err)) return false;
      throw err;
    }
    let tx: Awaited<ReturnType<typeof producer.transaction>> | undefined;
    try {
      tx = await producer.transaction();
      for (const o of out) {
        for (const chunk of chunkBySize(o.messages, this.maxRequestBytes)) {
          await tx.send({ topic: o.topic, acks: -1, timeout: 30_000, messages: chunk.map((m) => ({ key: m.key, value: m.value, headers: m.headers ?? {} })) });
        }
      }
      await (this.options as TransactionalOptions).afterProduce?.(++this.transactions);
      await tx.sendOffsets({ consumerGroupId: this.options.groupId, topics: [{ topic, partitions: [{ partition, offset: String(last.offset + 1) }] }] });
      await tx.commit();
      return true;
    } catch (err) {
      await tx?.abort().catch(() => {});
      const key = `${topic}:${partition}`;
      void this.txProducers.get(key)?.then((x) => x.disconnect()).catch(() => {});
      this.txProducers.delete(key);
      if (isRebalanceError(err) || isFencedError(err)) {
        this.logger.warn({ topic, partition, err: describeError(err) }, 'kafka transaction aborted by a rebalance; the batch will be delivered again');
        return false;
      }
      throw err;
    }
  }

  /**
   * A fetch of a transactional input that held transaction markers (or aborted records) and no
   * record to deliver: kafkajs moved its position past them without calling eachBatch. Commit that
   * position too, but only where everything before the batch is handled and committed (the
   * partition's committed offset is its resolved one, and the batch starts there or later): no
   * record lies between what was committed and the markers.
   */
  private onBatchEnd(e: ConsumerEndBatchProcessEvent): void {
    const { topic, partition, batchSize, firstOffset, lastOffset } = e.payload;
    if (this.stopping || batchSize !== 0 || firstOffset === null) return;
    const key = `${topic}:${partition}`;
    const at = this.positions.get(key);
    if (!at || at.committed !== at.resolved || Number(firstOffset) < at.resolved) return;
    const offset = Number(lastOffset) + 1;
    this.positions.set(key, { resolved: offset, committed: offset });
    this.markerCommits = this.markerCommits.then(async () => {
      try {
        await this.client.commitOffsets([{ topic, partition, offset: String(offset) }]);
      } catch (err) {
        if (!isRebalanceError(err)) this.fail(err);
        // Else the partition moved: its new owner starts from what was committed before, a re-read of markers only.
      }
    });
  }

  private async eachBatch(handler: BatchHandler, p: EachBatchPayload): Promise<void> {
    const { batch } = p;
    if (this.stopping) return;
    await this.floors.wait();
    const key = `${batch.topic}:${batch.partition}`;
    for (let i = 0; i < batch.messages.length; i += this.maxBatch) {
      if (this.stopping || !p.isRunning() || p.isStale()) return;
      const chunk = batch.messages.slice(i, i + this.maxBatch).map((m) => toInMessage(batch.topic, batch.partition, m));
      const last = chunk[chunk.length - 1]!;
      const lastChunk = i + this.maxBatch >= batch.messages.length;
      let resolved = last.offset + 1;
      const messages = this.floors.filter(chunk);
      if (this.transform && messages.length > 0) {
        let ok: boolean;
        try {
          ok = await this.transact(batch.topic, batch.partition, messages, last);
        } catch (err) {
          this.fail(err);
          return;
        }
        if (!ok) return;
      } else if (messages.length > 0) {
        let held: void | number;
        try {
          held = await handler(messages);
        } catch (err) {
          this.fail(err);
          return;
        }
        let commit = typeof held === 'number' ? Math.min(held, last.offset + 1) : last.offset + 1;
        // Transaction markers (or aborted records) after the batch's last record: when nothing is
        // held, commit past them too, and fetch on from there.
        if (this.options.transactionalInput && lastChunk && commit === last.offset + 1) {
          const end = Number(batch.lastOffset()) + 1;
          if (end > commit) resolved = commit = end;
        }
        try {
          await this.markerCommits;
          await p.commitOffsetsIfNecessary({ topics: [{ topic: batch.topic, partitions: [{ partition: batch.partition, offset: String(commit) }] }] });
          this.positions.set(key, { resolved, committed: commit });
        } catch (err) {
          if (!isRebalanceError(err)) {
            this.fail(err);
            return;
          }
          // The partition was rebalanced while the batch was in hand: its new owner re-reads it.
          this.logger.warn({ topic: batch.topic, partition: batch.partition, offset: last.offset + 1, err: describeError(err) }, 'kafka commit lost to a rebalance; the batch will be delivered again');
          throw err;
        }
      }
      if (messages.length === 0 || this.transform) {
        // Nothing committed by this adapter (records below the start floor; a transaction commits its own offsets).
        const at = this.positions.get(key);
        if (at) at.resolved = resolved;
      }
      p.resolveOffset(String(resolved - 1));
      await p.heartbeat();
    }
  }

  private fail(err: unknown): void {
    if (this.failure !== undefined) return;
    this.failure = err ?? new Error('kafka consumer failed');
    this.stopping = true;
    // Not awaited here: stopping waits for eachBatch, which may be the caller.
    setImmediate(() => void this.shutdown());
  }

  private shutdown(): Promise<void> {
    if (!this.closePromise) {
      this.stopping = true;
      this.closePromise = (async () => {
        try {
          await this.client.stop();
        } catch (err) {
          this.logger.debug({ err: describeError(err) }, 'kafka consumer stop');
        }
        try {
          await this.client.disconnect();
        } catch (err) {
          this.logger.debug({ err: describeError(err) }, 'kafka consumer disconnect');
        }
        this.dropTxProducers();
        this.joined.reject(this.failure ?? new Error('consumer closed'));
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
