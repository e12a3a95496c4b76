// The in-process transport: Kafka's semantics (partitions by key, offsets, consumer-group
// commits, redelivery from the committed offset) without a broker, for `tollgate demo`
// when TOLLGATE_KAFKA_BROKERS is empty. It is not a Kafka fake for tests: tests that are
// about Kafka run on the real broker. One member per consumer group.
import type { BatchHandler, Consumer, ConsumerOptions, InMessage, OutMessage, Producer, TransactionalConsumer, TransactionalOptions, Transport } from './transport.ts';

interface Partition {
  base: number; // offset of messages[0]
  messages: InMessage[];
}

class Signal {
  private waiters = new Set<() => void>();
  wait(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.waiters.add(done);
    });
  }
  notify(): void {
    for (const w of [...this.waiters]) w();
  }
}

export function partitionFor(key: string, partitions: number): number {
  // FNV-1a: stable across processes and runs.
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  return (h >>> 0) % partitions;
}

export class MemoryTransport implements Transport {
  readonly name = 'in-process';
  private readonly topics = new Map<string, Partition[]>();
  private readonly groups = new Map<string, Map<string, Map<number, number>>>(); // group -> topic -> partition -> next offset
  private readonly subscriptions = new Map<string, Set<string>>(); // topic -> groups
  private readonly produced = new Signal();
  private readonly consumed = new Signal();
  /** Backpressure: a producer waits while a subscribed group lags this many messages on a partition. */
  private readonly maxLag: number;

  constructor(opts: { maxLag?: number } = {}) {
    this.maxLag = opts.maxLag ?? 256;
  }

  async ensureTopics(topics: string[], partitions: number): Promise<void> {
    for (const t of topics) {
      if (!this.topics.has(t)) this.topics.set(t, Array.from({ length: partitions }, () => ({ base: 0, messages: [] })));
    }
  }

  private partitions(topic: string): Partition[] {
    const p = this.topics.get(topic);
    if (!p) throw new Error(`unknown topic ${topic}`);
    return p;
  }

  private lag(topic: string, partition: number): number {
    const p = this.partitions(topic)[partition]!;
    const end = p.base + p.messages.length;
    let lag = 0;
    for (const g of this.subscriptions.get(topic) ?? []) lag = Math.max(lag, end - (this.groups.get(g)?.get(topic)?.get(partition) ?? 0));
    return lag;
  }

  async producer(_clientId: string): Promise<Producer> {
    return {
      send: async (topic: string, messages: OutMessage[]) => {
        const parts = this.partitions(topic);
        for (const m of messages) {
          const partition = partitionFor(m.key, parts.length);
          while (this.lag(topic, partition) >= this.maxLag) await this.consumed.wait(50);
          const p = parts[partition]!;
          p.messages.push({ topic, partition, offset: p.base + p.messages.length, key: m.key, value: m.value, headers: { ...(m.headers ?? {}) } });
        }
        this.produced.notify();
      },
      close: async () => {},
    };
  }

  async consumer(_clientId: string, options: ConsumerOptions): Promise<Consumer> {
    const { groupId, topics } = options;
    const maxBatch = options.maxBatch ?? 100;
    const maxWaitMs = options.maxWaitMs ?? 100;
    let group = this.groups.get(groupId);
    if (!group) this.groups.set(groupId, (group = new Map()));
    let closing = false;
    let resolveDone!: () => void;
    let rejectDone!: (e: unknown) => void;
    const done = new Promise<void>((res, rej) => ((resolveDone = res), (rejectDone = rej)));
    done.catch(() => {});
    const position = new Map<string, Map<number, number>>();

    const loop = async () => {
      while (!closing) {
        let delivered = false;
        for (const topic of topics) {
          const parts = this.partitions(topic);
          const pos = position.get(topic)!;
          for (let i = 0; i < parts.length && !closing; i++) {
            const p = parts[i]!;
            const from = pos.get(i)!;
            const end = p.base + p.messages.length;
            if (from >= end) continue;
            const batch = p.messages.slice(from - p.base, Math.min(end, from + maxBatch) - p.base);
            const held = await handler(batch);
            const next = batch[batch.length - 1]!.offset + 1;
            pos.set(i, next);
            group!.get(topic)!.set(i, typeof held === 'number' ? Math.min(held, next) : next);
            this.trim(topic, i);
            this.consumed.notify();
            delivered = true;
          }
        }
        if (!delivered) await this.produced.wait(maxWaitMs);
      }
    };

    let handler: BatchHandler;
    return {
      done,
      run: async (h: BatchHandler) => {
        handler = h;
        for (const topic of topics) {
          const parts = this.partitions(topic);
          let subs = this.subscriptions.get(topic);
          if (!subs) this.subscriptions.set(topic, (subs = new Set()));
          subs.add(groupId);
          let committed = group!.get(topic);
          if (!committed) group!.set(topic, (committed = new Map()));
          const start = await options.onAssign?.(topic, parts.map((_, i) => i));
          const pos = new Map<number, number>();
          parts.forEach((p, i) => pos.set(i, Math.max(committed!.get(i) ?? p.base, start?.get(i) ?? 0)));
          position.set(topic, pos);
        }
        loop().then(resolveDone, rejectDone);
      },
      close: async () => {
        closing = true;
        this.produced.notify();
        await done.catch(() => {});
      },
    };
  }

  /** In one process, produce-then-commit is all or nothing: a crash loses the whole transport. */
  async transactional(clientId: string, options: TransactionalOptions): Promise<TransactionalConsumer> {
    const producer = await this.producer(clientId);
    const consumer = await this.consumer(clientId, options);
    return {
      done: consumer.done,
      run: (handler) =>
        consumer.run(async (messages) => {
          for (const o of await handler(messages)) if (o.messages.length > 0) await producer.send(o.topic, o.messages);
        }),
      close: () => consumer.close(),
    };
  }

  /** Drops messages every subscribed group has committed. */
  private trim(topic: string, partition: number): void {
    const p = this.partitions(topic)[partition]!;
    let min = Infinity;
    for (const g of this.subscriptions.get(topic) ?? []) min = Math.min(min, this.groups.get(g)?.get(topic)?.get(partition) ?? 0);
    const drop = Math.min(min, p.base + p.messages.length) - p.base;
    if (drop > 1024) {
      p.messages.splice(0, drop);
      p.base += drop;
    }
  }

  async committed(groupId: string, topic: string): Promise<Map<number, number>> {
    return new Map(this.groups.get(groupId)?.get(topic) ?? []);
  }

  async endOffsets(topic: string): Promise<Map<number, number>> {
    return new Map(this.partitions(topic).map((p, i) => [i, p.base + p.messages.length]));
  }

  async close(): Promise<void> {}
}
