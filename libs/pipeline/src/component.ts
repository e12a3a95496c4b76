// The lifecycle every stage has (after the OpenTelemetry Collector): start returns once the
// component runs, stop is idempotent and flushes what it holds. A pipeline starts downstream
// first and stops upstream first.

export interface Component {
  readonly name: string;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** Starts components in order (give them downstream first) and stops them in reverse. */
export class Lifecycle {
  private readonly started: Component[] = [];
  private stopping: Promise<void> | undefined;

  async start(components: Component[]): Promise<void> {
    for (const c of components) {
      await c.start();
      this.started.push(c);
    }
  }

  stop(): Promise<void> {
    this.stopping ??= (async () => {
      const errors: unknown[] = [];
      for (const c of [...this.started].reverse()) {
        try {
          await c.stop();
        } catch (err) {
          errors.push(err);
        }
      }
      if (errors.length) throw new AggregateError(errors, 'some components failed to stop cleanly');
    })();
    return this.stopping;
  }
}

/** A once-only guard for idempotent stop(). */
export function once(fn: () => Promise<void>): () => Promise<void> {
  let p: Promise<void> | undefined;
  return () => (p ??= fn());
}
