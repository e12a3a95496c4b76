// The node agent: conntrack ticks -> deltas (DeltaTracker) -> RawFlowBatch messages on
// flows.raw.v1, keyed by node (one partition per node keeps a node's batches in order).
import type { ConntrackTick } from '@tollgate/conntrack';
import type { Logger } from '@tollgate/log';
import { type Component, errorMessage, type Producer, retry } from '@tollgate/pipeline';
import { Family, type RawFlowBatch, type SchemaRegistry } from '@tollgate/schema';
import { toBatches } from './batch.ts';
import { DeltaTracker, type DeltaStats } from './delta.ts';
import type { ConntrackSource } from './source.ts';

export interface AgentDeps {
  source: ConntrackSource;
  producer: Producer;
  topic: string;
  cluster: string;
  node: string;
  batchMaxFlows: number;
  registry: SchemaRegistry;
  logger: Logger;
  /** Identity of this agent process; default `<node>@<start time ISO>`. */
  agentId?: string;
  /** Retries of a failed send (retriable errors) before the agent fails. */
  sendAttempts?: number;
  sendRetryBaseMs?: number;
}

export interface AgentStats extends DeltaStats {
  agentId: string;
  messages: number;
  flows: number;
  origBytes: number;
  replyBytes: number;
  /** Time of the last tick shipped (0 before the first). */
  lastTick: number;
}

export interface Agent extends Component {
  /** Settles when the agent stops: after the last tick of a finite source is sent, or after stop(); rejects on a failure. */
  readonly done: Promise<void>;
  stats(): AgentStats;
}

const STOP = Symbol('stop');

export function createAgent(deps: AgentDeps): Agent {
  const { source, producer, topic, cluster, node, batchMaxFlows, registry } = deps;
  if (!node) throw new RangeError('agent: node name is empty');
  if (!Number.isInteger(batchMaxFlows) || batchMaxFlows < 1) throw new RangeError(`agent: batchMaxFlows must be a positive integer, got ${batchMaxFlows}`);
  const log = deps.logger;
  const agentId = deps.agentId ?? `${node}@${new Date().toISOString()}`;
  const codec = registry.codec<RawFlowBatch>(Family.raw);
  const tracker = new DeltaTracker();
  const counts = { messages: 0, flows: 0, origBytes: 0, replyBytes: 0, lastTick: 0 };
  let seq = 0;
  let prevTick: number | undefined;
  let started = false;
  let stopping = false;
  let wake: (v: typeof STOP) => void = () => {};
  const stopSignal = new Promise<typeof STOP>((resolve) => (wake = resolve));
  let resolveDone!: () => void;
  let rejectDone!: (err: unknown) => void;
  const done = new Promise<void>((res, rej) => ((resolveDone = res), (rejectDone = rej)));
  done.catch(() => {});
  let loop: Promise<void> | undefined;
  let stopPromise: Promise<void> | undefined;

  async function ship(tick: ConntrackTick): Promise<void> {
    const flows = tracker.apply(tick);
    const windowStart = prevTick;
    prevTick = tick.time;
    if (windowStart === undefined || flows.length === 0) return;
    const batches = toBatches(flows, { cluster, node, agent_id: agentId, window_start: windowStart, window_end: tick.time }, batchMaxFlows, seq);
    const messages = batches.map((b) => ({ key: node, value: codec.encode(b) }));
    await retry(() => producer.send(topic, messages), {
      attempts: deps.sendAttempts ?? 8,
      baseMs: deps.sendRetryBaseMs ?? 250,
      maxMs: 10_000,
      onRetry: (err, attempt, delayMs) => log.warn({ err: errorMessage(err), attempt, delayMs, topic }, 'send failed, retrying'),
    });
    seq += batches.length;
    counts.messages += batches.length;
    counts.flows += flows.length;
    for (const f of flows) {
      counts.origBytes += f.orig_bytes;
      counts.replyBytes += f.reply_bytes;
    }
    counts.lastTick = tick.time;
  }

  async function run(): Promise<void> {
    const it = source[Symbol.asyncIterator]();
    let finished = false;
    try {
      while (!stopping) {
        const r = await Promise.race([it.next(), stopSignal]);
        if (r === STOP) break;
        if (r.done) {
          finished = true;
          break;
        }
        await ship(r.value);
      }
    } finally {
      // A live source may be waiting for its next poll: ask it to end, without waiting for it.
      if (!finished) void Promise.resolve(it.return?.()).catch(() => {});
    }
  }

  return {
    name: 'agent',
    done,
    async start() {
      if (started) return;
      started = true;
      log.info({ node, cluster, topic, agentId, batchMaxFlows }, 'agent started');
      loop = run().then(
        () => {
          const s = tracker.stats();
          log.info({ ticks: s.ticks, messages: counts.messages, flows: counts.flows, vanished: s.vanished, overruns: s.overruns }, 'agent finished');
          resolveDone();
        },
        (err: unknown) => {
          log.error({ err: errorMessage(err) }, 'agent failed');
          rejectDone(err);
        },
      );
    },
    stop() {
      stopPromise ??= (async () => {
        stopping = true;
        wake(STOP);
        if (!loop) resolveDone();
        // The tick in hand is shipped before the loop ends (stop flushes).
        await loop;
      })();
      return stopPromise;
    },
    stats: () => ({ ...tracker.stats(), ...counts, agentId }),
  };
}
