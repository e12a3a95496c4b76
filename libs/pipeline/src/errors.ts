// Errors are classified at the boundary: a permanent error means the input can never be
// processed (it goes to the DLQ); anything else is retriable.

export class PermanentError extends Error {
  readonly permanent = true;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PermanentError';
  }
}

export function isPermanent(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { permanent?: unknown }).permanent === true;
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Retries `fn` with exponential backoff while it fails with a retriable error. */
export async function retry<T>(
  fn: (attempt: number) => Promise<T>,
  opts: { attempts: number; baseMs: number; maxMs?: number; onRetry?: (err: unknown, attempt: number, delayMs: number) => void; signal?: AbortSignal },
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (err) {
      if (isPermanent(err) || attempt >= opts.attempts || opts.signal?.aborted) throw err;
      const delay = Math.min(opts.baseMs * 2 ** (attempt - 1), opts.maxMs ?? 30_000);
      opts.onRetry?.(err, attempt, delay);
      await new Promise((r) => setTimeout(r, delay));
    }
  }
}
