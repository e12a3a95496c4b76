// The agent's bounded, acknowledgement-based buffer: a batch leaves the agent's memory only after
// the output acknowledged it (Kafka acked the produce request, stdout took the write). A failed
// delivery is retried with backoff, in order, for as long as the agent runs; a permanent error
// drops the batch and counts it lost. The engine checks `soft`/`hard` before making deltas
// (backpressure), so the buffer never holds more than about its limit.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Writable } from 'node:stream';
import type { Logger } from '@tollgate/log';
import { errorMessage, isPermanent, type Producer } from '@tollgate/pipeline';

export interface OutItem {
  /** An encoded Kafka message value, or the JSON lines of a batch. */
  payload: Buffer | string;
  flows: number;
  origBytes: number;
  replyBytes: number;
  /** Batch sequence number (per agent_id). */
  seq?: number;
}

/** Where batches go. `deliver` resolves once the items are safe (acknowledged). */
export interface AgentOutput {
  readonly kind: 'kafka' | 'stdout' | 'custom';
  deliver(items: readonly OutItem[]): Promise<void>;
}

export function kafkaOutput(producer: Producer, topic: string, key: string): AgentOutput {
  return {
    kind: 'kafka',
    deliver: (items) => producer.send(topic, items.map((i) => ({ key, value: i.payload as Buffer }))),
  };
}

export function streamOutput(stream: Writable): AgentOutput {
  return {
    kind: 'stdout',
    deliver: (items) =>
      new Promise<void>((resolve, reject) => {
        const text = items.map((i) => i.payload as string).join('');
        stream.write(text, (err) => (err ? reject(err) : resolve()));
      }),
  };
}

export interface BufferHooks {
  onAcked?(items: readonly OutItem[]): void;
  onLost?(items: readonly OutItem[], reason: string): void;
  onError?(err: unknown, attempt: number): void;
  onDepth?(bytes: number, batches: number): void;
}

export class AckBuffer {
  private readonly items: OutItem[] = [];
  private bytes = 0;
  private pumping: Promise<void> | undefined;
  private closed = false;
  private wakeSleep: AbortController | undefined;
  private readonly waiters: Array<() => void> = [];
  private readonly drainWaiters: Array<() => void> = [];
  private readonly output: AgentOutput;
  private readonly maxBytes: number;
  private readonly log: Logger;
  private readonly hooks: BufferHooks;
  private readonly opts: { sendMaxItems: number; retryBaseMs: number; retryMaxMs: number };

  constructor(output: AgentOutput, maxBytes: number, log: Logger, hooks: BufferHooks = {}, opts: Partial<AckBuffer['opts']> = {}) {
    this.output = output;
    this.maxBytes = maxBytes;
    this.log = log;
    this.hooks = hooks;
    this.opts = { sendMaxItems: 64, retryBaseMs: 200, retryMaxMs: 10_000, ...opts };
  }

  get depthBytes(): number {
    return this.bytes;
  }
  get depth(): number {
    return this.items.length;
  }
  /** Past 3/4 of the limit: dump deltas should wait in the kernel counters. */
  get soft(): boolean {
    return this.bytes >= (this.maxBytes * 3) / 4;
  }
  /** At the limit: nothing more may be added. */
  get hard(): boolean {
    return this.bytes >= this.maxBytes;
  }

  push(item: OutItem): void {
    if (this.closed) {
      this.hooks.onLost?.([item], 'closed');
      return;
    }
    this.items.push(item);
    this.bytes += item.payload.length;
    this.hooks.onDepth?.(this.bytes, this.items.length);
    this.pumping ??= this.pump().finally(() => (this.pumping = undefined));
  }

  /** Resolves once everything pushed so far is acknowledged (or the buffer is closed). */
  async drained(): Promise<void> {
    while (this.items.length > 0 && !this.closed) await new Promise<void>((r) => this.drainWaiters.push(r));
  }

  /** Resolves when the buffer is below its soft limit (a replayed source paces itself on it). */
  async belowSoft(): Promise<void> {
    while (this.soft && !this.closed) await new Promise<void>((r) => this.waiters.push(r));
  }

  private async pump(): Promise<void> {
    let attempt = 0;
    while (this.items.length > 0 && !this.closed) {
      const take = this.items.slice(0, this.opts.sendMaxItems);
      try {
        await this.output.deliver(take);
        attempt = 0;
      } catch (err) {
        if (isPermanent(err)) {
          this.log.error({ err: errorMessage(err), batches: take.length }, 'output refused the batches for good: dropped and counted lost');
          this.drop(take.length);
          this.hooks.onLost?.(take, 'permanent');
          continue;
        }
        attempt++;
        this.hooks.onError?.(err, attempt);
        const delay = Math.min(this.opts.retryBaseMs * 2 ** (attempt - 1), this.opts.retryMaxMs);
        this.log.warn({ err: errorMessage(err), attempt, delayMs: delay, batches: this.items.length }, 'delivery failed, retrying (batches kept)');
        this.wakeSleep = new AbortController();
        await sleep(delay, undefined, { signal: this.wakeSleep.signal }).catch(() => {});
        continue;
      }
      this.drop(take.length);
      this.hooks.onAcked?.(take);
    }
  }

  private drop(n: number): void {
    for (const i of this.items.splice(0, n)) this.bytes -= i.payload.length;
    this.hooks.onDepth?.(this.bytes, this.items.length);
    if (!this.soft) for (const w of this.waiters.splice(0)) w();
    if (this.items.length === 0) for (const w of this.drainWaiters.splice(0)) w();
  }

  /** Waits up to `timeoutMs` for everything to be acknowledged, then closes; what is left is counted lost. */
  async close(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.items.length > 0 && Date.now() < deadline) {
      this.pumping ??= this.pump().finally(() => (this.pumping = undefined));
      await Promise.race([this.pumping, sleep(Math.max(1, Math.min(50, deadline - Date.now())))]);
    }
    this.closed = true;
    this.wakeSleep?.abort();
    // a delivery in flight settles, or is abandoned (its batches are counted lost below)
    await Promise.race([this.pumping, sleep(1_000)]);
    if (this.items.length > 0) {
      const left = this.items.splice(0);
      this.bytes = 0;
      this.log.error({ batches: left.length, flows: left.reduce((a, i) => a + i.flows, 0) }, 'stopped with unacknowledged batches: counted lost');
      this.hooks.onLost?.(left, 'stop');
    }
    this.hooks.onDepth?.(0, 0);
    for (const w of [...this.waiters.splice(0), ...this.drainWaiters.splice(0)]) w();
  }
}
