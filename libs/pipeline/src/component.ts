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

/** A long-running component: `done` settles when it stops, rejecting with the error that stopped it. */
export interface Stage extends Component {
  readonly done: Promise<void>;
  /** Readiness for /readyz: true, or the reason it is not ready. */
  ready?(): true | string;
}

/**
 * The run state every stage keeps (one copy instead of one per stage): the `done` promise,
 * settled once, by the first of `finish()` or `fail(err)`; later calls are ignored.
 */
export class RunState {
  readonly done: Promise<void>;
  private settled: 'running' | 'finished' | 'failed' = 'running';
  private resolveDone!: () => void;
  private rejectDone!: (err: unknown) => void;
  private failure: unknown;

  constructor() {
    this.done = new Promise<void>((resolve, reject) => {
      this.resolveDone = resolve;
      this.rejectDone = reject;
    });
    this.done.catch(() => {});
  }

  get state(): 'running' | 'finished' | 'failed' {
    return this.settled;
  }

  /** The error that stopped the stage, if one did. */
  get error(): unknown {
    return this.failure;
  }

  finish(): void {
    if (this.settled !== 'running') return;
    this.settled = 'finished';
    this.resolveDone();
  }

  fail(err: unknown): void {
    if (this.settled !== 'running') return;
    this.settled = 'failed';
    this.failure = err;
    this.rejectDone(err);
  }
}
