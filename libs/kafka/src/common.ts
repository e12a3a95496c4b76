// Pieces both client adapters share: broker list checks, request and fetch sizes, the
// size-bounded split of a send, the per-partition start floors of `onAssign`, error
// classification (rebalance, description), and the small promise helpers of a consumer.
import { ConfigError } from '@tollgate/config';
import type { ConsumerOptions, InMessage, OutMessage, Producer } from '@tollgate/pipeline';

export const BROKERS_SETTING = 'TOLLGATE_KAFKA_BROKERS';

export interface Broker {
  host: string;
  port: number;
}

/** `host:port` (IPv6 as `[::1]:9092`) -> {host, port}; anything else is a ConfigError. */
export function parseBroker(s: string): Broker {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(s) ?? /^([^:[\]]+):(\d+)$/.exec(s);
  const port = m ? Number(m[2]) : NaN;
  if (!m || !(port > 0 && port < 65536)) throw new ConfigError(BROKERS_SETTING, `'${s}' is not host:port`);
  return { host: m[1]!, port };
}

/** The largest produce request this transport builds (a broker's default message.max.bytes is 1 MiB). */
export const MAX_REQUEST_BYTES = 900 * 1024;

function approxSize(m: OutMessage): number {
  let n = 64 + m.value.length + Buffer.byteLength(m.key);
  for (const [k, v] of Object.entries(m.headers ?? {})) n += k.length + v.length + 8;
  return n;
}

/**
 * Splits a send into consecutive chunks of at most `maxBytes` (a message larger than that
 * travels alone and the broker decides). Order is kept, so per-key order is kept.
 */
export function chunkBySize(messages: OutMessage[], maxBytes = MAX_REQUEST_BYTES): OutMessage[][] {
  const chunks: OutMessage[][] = [];
  let current: OutMessage[] = [];
  let size = 0;
  for (const m of messages) {
    const s = approxSize(m);
    if (current.length > 0 && size + s > maxBytes) {
      chunks.push(current);
      current = [];
      size = 0;
    }
    current.push(m);
    size += s;
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}

/**
 * The start floors `onAssign` returned for the current assignment. Messages below the floor
 * of their partition are skipped: the consumer starts at max(committed, floor) without a
 * seek, which holds whatever the client fetched in between (a rebalance, a retry).
 */
export class StartFloors {
  private floors = new Map<string, number>();
  private ready: Promise<void> = Promise.resolve();
  private generation = 0;

  /** A new assignment: calls onAssign per topic; `wait()` holds deliveries until it settles. */
  assign(onAssign: ConsumerOptions['onAssign'], assignment: Map<string, number[]>): Promise<void> {
    const gen = ++this.generation;
    this.floors = new Map();
    if (!onAssign) return (this.ready = Promise.resolve());
    const floors = new Map<string, number>();
    this.ready = (async () => {
      for (const [topic, partitions] of assignment) {
        if (partitions.length === 0) continue;
        const start = await onAssign(topic, [...partitions].sort((a, b) => a - b));
        for (const [p, offset] of start ?? []) floors.set(`${topic}:${p}`, offset);
      }
      if (gen === this.generation) this.floors = floors;
    })();
    return this.ready;
  }

  wait(): Promise<void> {
    return this.ready;
  }

  /** The messages at or above the floor of their partition. */
  filter(messages: InMessage[]): InMessage[] {
    if (this.floors.size === 0 || messages.length === 0) return messages;
    const floor = this.floors.get(`${messages[0]!.topic}:${messages[0]!.partition}`);
    return floor === undefined ? messages : messages.filter((m) => m.offset >= floor);
  }
}

export interface Deferred<T> {
  promise: Promise<T>;
  resolve(v: T): void;
  reject(e: unknown): void;
}

export function deferred<T>(): Deferred<T> {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
}

/** Settles after `ms` or when `wake()` is called, whichever comes first. */
export class Wakeup {
  private waiters: Array<() => void> = [];
  wait(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const finish = () => {
        clearTimeout(t);
        this.waiters = this.waiters.filter((w) => w !== finish);
        resolve();
      };
      const t = setTimeout(finish, ms);
      this.waiters.push(finish);
    });
  }
  wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }
}

/** Serializes async calls: each starts after the previous one settled. */
export class SerialQueue {
  private tail: Promise<unknown> = Promise.resolve();
  run<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.tail.then(fn, fn);
    this.tail = next.catch(() => {});
    return next;
  }
}

/**
 * The Producer both clients share: sends run one after another (per-key order holds), each split
 * into requests under `maxBytes`; close waits for the send in hand, then closes the client once.
 */
export function serialProducer(opts: {
  name: string;
  maxBytes: number;
  sendChunk: (topic: string, chunk: OutMessage[]) => Promise<unknown>;
  closeClient: () => Promise<unknown>;
  onClose: () => void;
}): Producer {
  const serial = new SerialQueue();
  let closed = false;
  return {
    send: (topic, messages) =>
      serial.run(async () => {
        if (closed) throw new Error(`producer ${opts.name} is closed`);
        for (const chunk of chunkBySize(messages, opts.maxBytes)) await opts.sendChunk(topic, chunk);
      }),
    close: async () => {
      if (closed) return;
      closed = true;
      await serial.run(async () => {});
      opts.onClose();
      await opts.closeClient();
    },
  };
}

export function headersToRecord(entries: Iterable<[unknown, unknown]>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of entries) {
    if (k === null || k === undefined) continue;
    out[String(k)] = v === null || v === undefined ? '' : Buffer.isBuffer(v) ? v.toString('utf8') : String(v);
  }
  return out;
}

/** Sizes of requests and fetches. Defaults suit ~30-60 KB messages (a few hundred flows each). */
export interface TransportTuning {
  /** Largest produce request built from one send (the broker's message.max.bytes is 1 MiB by default). */
  maxRequestBytes: number;
  /** Most bytes one fetch returns. */
  fetchMaxBytes: number;
  /** Most bytes one fetch returns for one partition. */
  fetchMaxBytesPerPartition: number;
}

export const defaultTuning: TransportTuning = {
  maxRequestBytes: 900 * 1024,
  fetchMaxBytes: 16 * 1024 * 1024,
  fetchMaxBytesPerPartition: 4 * 1024 * 1024,
};

const REBALANCE = new Set(['REBALANCE_IN_PROGRESS', 'ILLEGAL_GENERATION', 'UNKNOWN_MEMBER_ID', 'FENCED_INSTANCE_ID', 'STALE_MEMBER_EPOCH', 'FENCED_MEMBER_EPOCH']);

/** True when the error (or one it wraps) says the group moved on: a commit of the old generation is void. */
export function isRebalanceError(err: unknown, depth = 0): boolean {
  if (typeof err !== 'object' || err === null || depth > 5) return false;
  const e = err as { type?: unknown; apiId?: unknown; needsRejoin?: unknown; errors?: unknown; cause?: unknown; originalError?: unknown };
  if (e.needsRejoin === true) return true;
  if (typeof e.type === 'string' && REBALANCE.has(e.type)) return true;
  if (typeof e.apiId === 'string' && REBALANCE.has(e.apiId)) return true;
  if (Array.isArray(e.errors) && e.errors.some((x) => isRebalanceError(x, depth + 1))) return true;
  return isRebalanceError(e.cause, depth + 1) || isRebalanceError(e.originalError, depth + 1);
}

const FENCED = new Set(['PRODUCER_FENCED', 'INVALID_PRODUCER_EPOCH', 'INVALID_PRODUCER_ID_MAPPING', 'CONCURRENT_TRANSACTIONS', 'INVALID_TXN_STATE']);

/** True when a transactional producer was fenced (another instance took its transactional id) or its transaction state moved on. */
export function isFencedError(err: unknown, depth = 0): boolean {
  if (typeof err !== 'object' || err === null || depth > 5) return false;
  const e = err as { type?: unknown; apiId?: unknown; errors?: unknown; cause?: unknown; originalError?: unknown; message?: unknown };
  if (typeof e.type === 'string' && FENCED.has(e.type)) return true;
  // @platformatic/kafka words PRODUCER_FENCED only in its message.
  if (typeof e.message === 'string' && /fences the current one|producer has been fenced|producer epoch/i.test(e.message)) return true;
  if (typeof e.apiId === 'string' && FENCED.has(e.apiId)) return true;
  if (Array.isArray(e.errors) && e.errors.some((x) => isFencedError(x, depth + 1))) return true;
  return isFencedError(e.cause, depth + 1) || isFencedError(e.originalError, depth + 1);
}

/** One line describing an error and the errors it wraps (the clients nest them), for logs. */
export function describeError(err: unknown, depth = 0): string {
  if (!(err instanceof Error) || depth > 3) return String(err);
  const e = err as Error & { errors?: unknown[]; cause?: unknown };
  const inner = [...(Array.isArray(e.errors) ? e.errors : []), ...(e.cause ? [e.cause] : [])].map((x) => describeError(x, depth + 1));
  return inner.length > 0 ? `${e.message} (${[...new Set(inner)].join('; ')})` : e.message;
}

/** Polls `ready` until true (new topics have leaders), at most `timeoutMs`. */
export async function waitForLeaders(ready: () => Promise<boolean>, topics: string[], timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await ready()) return;
    } catch {
      // metadata of a just-created topic may not be there yet
    }
    if (Date.now() > deadline) throw new Error(`topics ${topics.join(', ')} have no leader after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Rejects with `message` when `p` has not settled after `ms`. */
export function withTimeout<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(message)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}
