// Small client-agnostic helpers of the two adapters.

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
