// The node agent: a source (the kernel's conntrack, or a replay of the simulated cluster) feeds
// the engine; batches go through the ack buffer to the output (Kafka flows.raw.v1 keyed by node,
// or stdout). Lifecycle (libs/pipeline component.ts): start returns once the baseline dump is
// taken and the event stream runs; stop is idempotent and flushes (one last dump, the DESTROY
// deltas in hand, then waits for the output to acknowledge everything it holds).
import { setTimeout as sleep } from 'node:timers/promises';
import { formatEntry, type ConntrackTick, type TrackerStats } from '@tollgate/conntrack';
import type { Logger } from '@tollgate/log';
import { stageMetrics, type Registry } from '@tollgate/metrics';
import { type Component, errorMessage, releaseMemory } from '@tollgate/pipeline';
import type { SchemaRegistry } from '@tollgate/schema';
import { AckBuffer, type AgentOutput, type OutItem } from './buffer.ts';
import { AgentEngine, type EngineCounts } from './engine.ts';
import type { EventHandlers, KernelConntrack } from './kernel.ts';
import { agentMetrics } from './metrics.ts';
import { readState, StateWriter } from './state.ts';

export type AgentSource =
  | { kind: 'kernel'; kernel: KernelConntrack; pollIntervalMs: number; enableAcct: boolean }
  | { kind: 'replay'; ticks: Iterable<ConntrackTick> | AsyncIterable<ConntrackTick> };

export interface AgentDeps {
  source: AgentSource;
  output: AgentOutput;
  cluster: string;
  node: string;
  batchMaxFlows: number;
  registry: SchemaRegistry;
  logger: Logger;
  /** Identity of this agent process; default `<node>@<start time ISO>`. */
  agentId?: string;
  bufferMaxBytes?: number;
  flushTimeoutMs?: number;
  /** Prometheus registry for the agent's metrics (none: not exported). */
  metrics?: Registry;
  /** Retry pacing of failed deliveries (tests shorten it). */
  retryBaseMs?: number;
  /** File of the acknowledged position (agent_id, seq; state.ts); none: a restart starts afresh. */
  statePath?: string;
}

export interface AgentStats extends TrackerStats, EngineCounts {
  agentId: string;
  /** Acknowledged by the output: batches, flows, bytes. */
  messages: number;
  flows: number;
  ackedOrigBytes: number;
  ackedReplyBytes: number;
  /** Time of the last dump taken (0 before the first). */
  lastTick: number;
  cycles: number;
  failedCycles: number;
  bufferBytes: number;
}

export interface Agent extends Component {
  /** Settles when the agent stopped: after a replay's last tick is acknowledged, or after stop(); rejects on a failure. */
  readonly done: Promise<void>;
  stats(): AgentStats;
  ready(): true | string;
  /** Kernel source: one poll now (tests; the timer does the same). */
  cycle(): Promise<void>;
}

export function createAgent(deps: AgentDeps): Agent {
  const { source, cluster, node, batchMaxFlows } = deps;
  if (!node) throw new RangeError('agent: node name is empty');
  if (!Number.isInteger(batchMaxFlows) || batchMaxFlows < 1) throw new RangeError(`agent: batchMaxFlows must be a positive integer, got ${batchMaxFlows}`);
  const log = deps.logger;
  const kind = source.kind === 'kernel' ? 'kernel' : 'replay';
  const saved = deps.statePath ? readState(deps.statePath) : undefined;
  if (saved && (saved.node !== node || saved.source !== kind || saved.batchMaxFlows !== batchMaxFlows)) {
    throw new Error(`agent state ${deps.statePath} is of node ${saved.node}, source ${saved.source}, ${saved.batchMaxFlows} flows per batch: not this agent's (remove it to start afresh)`);
  }
  const agentId = saved?.agentId ?? deps.agentId ?? `${node}@${new Date().toISOString()}`;
  const state = deps.statePath ? new StateWriter(deps.statePath, saved ?? { version: 1, agentId, node, source: kind, batchMaxFlows, ackedSeq: -1 }) : undefined;
  // The identity goes to disk before anything is sent: an agent killed before its first
  // acknowledgement restarts as the same agent_id, so its resent batches are recognisable copies.
  state?.write();
  if (saved) log.info({ agentId, ackedSeq: saved.ackedSeq }, 'resuming from the acknowledged position');
  const m = deps.metrics ? agentMetrics.instruments(deps.metrics) : undefined;
  const sm = deps.metrics ? stageMetrics.instruments(deps.metrics) : undefined;
  const acked = { messages: 0, flows: 0, ackedOrigBytes: 0, ackedReplyBytes: 0, lostFlows: 0, lostBytes: 0 };
  const buffer = new AckBuffer(
    deps.output,
    deps.bufferMaxBytes ?? 32 * 1024 * 1024,
    log,
    {
      onAcked(items: readonly OutItem[]) {
        const last = items[items.length - 1]?.seq;
        if (state && last !== undefined) state.acked(last);
        for (const i of items) {
          acked.messages++;
          acked.flows += i.flows;
          acked.ackedOrigBytes += i.origBytes;
          acked.ackedReplyBytes += i.replyBytes;
          sm?.tollgate_records_out_total.inc({ stage: 'agent' }, i.flows);
          sm?.tollgate_bytes_total.inc({ stage: 'agent' }, i.origBytes + i.replyBytes);
        }
      },
      onLost(items: readonly OutItem[]) {
        for (const i of items) {
          acked.lostFlows += i.flows;
          acked.lostBytes += i.origBytes + i.replyBytes;
          m?.tollgate_agent_lost_flows_total.inc(i.flows);
          m?.tollgate_agent_lost_bytes_total.inc(i.origBytes + i.replyBytes);
        }
      },
      onError(_err, attempt) {
        sm?.tollgate_produce_errors_total.inc({ stage: 'agent' });
        if (attempt > 0) sm?.tollgate_produce_retries_total.inc({ stage: 'agent' });
      },
      onDepth(bytes, batches) {
        m?.tollgate_agent_buffer_bytes.set(bytes);
        m?.tollgate_agent_buffer_batches.set(batches);
      },
    },
    { retryBaseMs: deps.retryBaseMs ?? 200 },
  );
  const resumeSeq = saved ? saved.ackedSeq : undefined;
  const engine = new AgentEngine({
    cluster,
    node,
    agentId,
    batchMaxFlows,
    encoding: deps.output.kind === 'stdout' ? 'json' : 'avro',
    registry: deps.registry,
    buffer,
    alwaysEmit: kind === 'replay',
    onBarrier: (n) => barrierSeen.get(n)?.(),
    // a replay cuts the same batches again and skips the acknowledged ones; the kernel continues its sequence
    ...(resumeSeq !== undefined ? (kind === 'replay' ? { skipThroughSeq: resumeSeq } : { firstSeq: resumeSeq + 1 }) : {}),
  });
  let lastTick = 0;
  let cycles = 0;
  let failedCycles = 0;
  let lastError: string | undefined;
  let started = false;
  let stopping = false;
  let resolveDone!: () => void;
  let rejectDone!: (err: unknown) => void;
  const done = new Promise<void>((res, rej) => ((resolveDone = res), (rejectDone = rej)));
  done.catch(() => {});
  let stopPromise: Promise<void> | undefined;
  let loop: Promise<void> | undefined;
  let replayRun: Promise<void> | undefined;
  let signalStop!: () => void;
  const stopSignal = new Promise<void>((r) => (signalStop = r));
  let wakeLoop = new AbortController();
  let inCycle: Promise<void> | undefined;
  // barriers (kernel.ts BARRIER) awaited by number; numbers start at random (a crashed agent's may linger a minute)
  const barrierSeen = new Map<number, () => void>();
  let barrierNo = Math.floor(Math.random() * 65535);
  let subscription: ((ok: boolean) => void) | undefined;
  // metrics follow the tracker's and engine's counters (increments since the last publish)
  const published: Record<string, number> = {};
  function publish(): void {
    if (!m) return;
    const s = { ...engine.stats(), ...engine.counts };
    const inc = (name: string, v: number, f: (d: number) => void) => {
      const d = v - (published[name] ?? 0);
      if (d > 0) f(d);
      published[name] = v;
    };
    inc('dumpDeltas', s.dumpDeltas, (d) => m.tollgate_agent_deltas_total.inc({ origin: 'dump' }, d));
    inc('eventDeltas', s.eventDeltas, (d) => m.tollgate_agent_deltas_total.inc({ origin: 'destroy' }, d));
    inc('origBytes', s.origBytes, (d) => m.tollgate_agent_delta_bytes_total.inc({ direction: 'orig' }, d));
    inc('replyBytes', s.replyBytes, (d) => m.tollgate_agent_delta_bytes_total.inc({ direction: 'reply' }, d));
    inc('destroyEvents', s.destroyEvents, (d) => m.tollgate_agent_events_total.inc(d));
    inc('overruns', s.overruns, (d) => m.tollgate_agent_events_lost_total.inc(d));
    inc('malformed', s.malformed, (d) => m.tollgate_agent_parse_errors_total.inc({ kind: 'malformed' }, d));
    inc('truncated', s.truncated, (d) => m.tollgate_agent_parse_errors_total.inc({ kind: 'truncated' }, d));
    inc('vanished', s.vanished, (d) => m.tollgate_agent_vanished_total.inc(d));
    inc('restarted', s.restarted, (d) => m.tollgate_agent_restarted_total.inc(d));
    inc('deferred', s.deferred, (d) => m.tollgate_agent_deferred_total.inc(d));
    inc('trackerLostFlows', s.lostFlows, (d) => m.tollgate_agent_lost_flows_total.inc(d));
    inc('trackerLostBytes', s.lostBytes, (d) => m.tollgate_agent_lost_bytes_total.inc(d));
    m.tollgate_agent_entries_tracked.set(s.tracked);
    m.tollgate_agent_table_bytes.set(engine.tracker.memoryBytes);
  }

  async function kernelCycle(kernel: KernelConntrack): Promise<void> {
    const t0 = performance.now();
    const time = Date.now();
    engine.beginDump(time);
    try {
      await kernel.dump((c) => engine.dumpChunk(c));
      engine.endDump();
      releaseMemory(); // what the dump's deltas promoted, before it waits for the old generation to fill (peak RSS)
      lastTick = time;
      cycles++;
      lastError = undefined;
      m?.tollgate_agent_cycles_total.inc({ result: 'ok' });
      m?.tollgate_agent_cycle_seconds.observe((performance.now() - t0) / 1000);
      log.debug({ ms: Math.round(performance.now() - t0), tracked: engine.tracker.tracked, deltas: engine.counts.dumpDeltas }, 'poll');
    } catch (err) {
      engine.abortDump();
      failedCycles++;
      lastError = errorMessage(err);
      m?.tollgate_agent_cycles_total.inc({ result: 'failed' });
      log.error({ err: lastError }, 'conntrack dump failed (nothing forgotten; next poll retries)');
    }
    publish();
  }

  function cycle(): Promise<void> {
    if (source.kind !== 'kernel') return Promise.reject(new Error('cycle(): not a kernel source'));
    inCycle ??= kernelCycle(source.kernel).finally(() => (inCycle = undefined));
    return inCycle;
  }

  async function startKernel(s: Extract<AgentSource, { kind: 'kernel' }>): Promise<void> {
    const k = s.kernel;
    await k.check();
    let acct = await k.readAcct();
    if (acct === 0 && s.enableAcct) {
      await k.enableAcct().catch((err: unknown) => {
        throw new Error(
          `TOLLGATE_CONNTRACK_ENABLE_ACCT: could not turn on net.netfilter.nf_conntrack_acct (${errorMessage(err)}); run \`sysctl -w net.netfilter.nf_conntrack_acct=1\` on the node, or give the agent a writable /proc/sys`,
        );
      });
      acct = await k.readAcct();
      log.info('turned net.netfilter.nf_conntrack_acct on');
    }
    m?.tollgate_agent_conntrack_acct.set(acct === 1 ? 1 : 0);
    if (acct === 0) {
      log.warn('net.netfilter.nf_conntrack_acct is 0: conntrack entries carry no byte counters, so the agent reports no traffic. Run `sysctl -w net.netfilter.nf_conntrack_acct=1` on the node, or set TOLLGATE_CONNTRACK_ENABLE_ACCT=true');
    } else if (acct === undefined) {
      log.warn('net.netfilter.nf_conntrack_acct is not readable (nf_conntrack not loaded yet?): counters may be missing');
    }
    const events: EventHandlers = {
      chunk: (b: Buffer) => engine.eventChunk(b),
      subscribed: () => subscription?.(true),
      overrun: () => {
        engine.overrun();
        log.warn('conntrack event overrun (ENOBUFS): some DESTROY events were lost; resyncing with a full dump');
        wakeLoop.abort();
      },
      ended: (code: number | null) => {
        engine.endEvents();
        subscription?.(false);
        if (stopping) return;
        engine.overrun();
        log.warn({ code }, 'conntrack -E ended; restarting it (events in between are lost, counted) and resyncing once it listens');
        setTimeout(() => {
          if (!stopping) void listen(k, events).then(() => wakeLoop.abort());
        }, 1_000).unref();
      },
    };
    if (!(await listen(k, events))) log.warn('conntrack -E did not confirm its subscription within 10 s: entries created before it listens report no DESTROY');
    const ev = await k.readEvents();
    if (ev === 0) log.warn('net.netfilter.nf_conntrack_events is 0: the kernel sends no DESTROY events, so flows that end between two polls lose their last bytes. Set it to 1 on the node');
    else if (ev === 2) log.info('net.netfilter.nf_conntrack_events is 2: entries created before the agent listened report no DESTROY (their bytes after the last poll are not billed); 1 on the node makes every entry report');
    releaseMemory(); // the start's garbage and grown young generation (Kafka client), before the table fills (peak RSS)
    await cycle();
    if (!engine.hasBaseline) throw new Error(`the first conntrack dump failed: ${lastError}`);
    loop = (async () => {
      while (!stopping) {
        await sleep(s.pollIntervalMs, undefined, { signal: wakeLoop.signal }).catch(() => {});
        if (wakeLoop.signal.aborted) wakeLoop = new AbortController();
        if (stopping) break;
        await cycle();
      }
    })();
  }

  /** Starts the DESTROY event stream; resolves true once it is subscribed (false: it ended, or 10 s passed). */
  function listen(k: KernelConntrack, events: EventHandlers): Promise<boolean> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => done(false), 10_000);
      const done = (ok: boolean) => {
        clearTimeout(timer);
        if (subscription === done) subscription = undefined;
        resolve(ok);
      };
      subscription = done;
      k.startEvents(events);
    });
  }

  /**
   * Reads every DESTROY event the kernel sent so far: creates and deletes a barrier entry and waits
   * for its DESTROY, which the kernel queues after all earlier events (at most 10 s).
   */
  async function drainEvents(k: KernelConntrack): Promise<void> {
    const n = (barrierNo++ % 65535) + 1;
    let timer: NodeJS.Timeout | undefined;
    const seen = new Promise<boolean>((resolve) => {
      barrierSeen.set(n, () => resolve(true));
      timer = setTimeout(() => resolve(false), 10_000);
    });
    try {
      await k.barrier(n);
      if (!(await seen)) log.warn('the event barrier did not arrive within 10 s: DESTROY events still queued are lost');
    } catch (err) {
      log.warn({ err: errorMessage(err) }, 'could not set the event barrier: DESTROY events still queued may be lost');
    } finally {
      clearTimeout(timer);
      barrierSeen.delete(n);
    }
  }

  async function stopKernel(s: Extract<AgentSource, { kind: 'kernel' }>): Promise<void> {
    wakeLoop.abort();
    await loop;
    await inCycle;
    if (engine.hasBaseline) {
      await kernelCycle(s.kernel); // the growth since the last poll is shipped, not left to the next agent's baseline
      await drainEvents(s.kernel); // and the DESTROY events of the last moments
    }
    await s.kernel.stopEvents();
  }

  async function runReplay(ticks: Iterable<ConntrackTick> | AsyncIterable<ConntrackTick>): Promise<void> {
    for await (const t of ticks) {
      if (stopping) break;
      await Promise.race([buffer.belowSoft(), stopSignal]);
      if (stopping) break;
      if (t.overruns) engine.overrun(t.overruns);
      if (t.destroyed.length) engine.eventChunk(Buffer.from(t.destroyed.map((d) => formatEntry(d.entry, { event: 'DESTROY', time: d.time }) + '\n').join(''), 'latin1'));
      engine.beginDump(t.time);
      let text = '';
      for (const e of t.dump) {
        text += formatEntry(e, { now: t.time }) + '\n';
        if (text.length > 1 << 16) {
          engine.dumpChunk(Buffer.from(text, 'latin1'));
          text = '';
        }
      }
      if (text) engine.dumpChunk(Buffer.from(text, 'latin1'));
      engine.endDump();
      lastTick = t.time;
      cycles++;
      publish();
      await new Promise((r) => setImmediate(r));
    }
  }

  async function finish(): Promise<void> {
    engine.flushEvents();
    await buffer.close(deps.flushTimeoutMs ?? 15_000);
    state?.write();
    publish();
  }

  const stats = (): AgentStats => ({ ...engine.stats(), ...engine.counts, ...acked, lostFlows: engine.stats().lostFlows + acked.lostFlows, lostBytes: engine.stats().lostBytes + acked.lostBytes, agentId, lastTick, cycles, failedCycles, bufferBytes: buffer.depthBytes });

  return {
    name: 'agent',
    done,
    cycle,
    stats,
    ready() {
      if (!engine.hasBaseline) return 'no baseline dump yet';
      if (lastError) return `last dump failed: ${lastError}`;
      return true;
    },
    async start() {
      if (started) return;
      started = true;
      log.info({ node, cluster, agentId, batchMaxFlows, source: source.kind, output: deps.output.kind }, 'agent starting');
      if (source.kind === 'kernel') {
        try {
          await startKernel(source);
        } catch (err) {
          stopping = true;
          await source.kernel.stopEvents();
          rejectDone(err);
          throw err;
        }
        log.info({ tracked: engine.tracker.tracked }, 'agent running: baseline set');
      } else {
        replayRun = runReplay(source.ticks);
        loop = replayRun.then(
          async () => {
            if (stopping) return;
            // the replay is over: everything it made is delivered, however long the output takes
            // (a stop() meanwhile bounds the wait by TOLLGATE_AGENT_FLUSH_TIMEOUT_MS)
            engine.flushEvents();
            await buffer.drained();
            if (stopping) return;
            await finish();
            log.info({ ticks: cycles, flows: acked.flows }, 'agent finished the replay');
            resolveDone();
          },
          (err: unknown) => {
            log.error({ err: errorMessage(err) }, 'agent failed');
            rejectDone(err);
          },
        );
      }
    },
    stop() {
      stopPromise ??= (async () => {
        stopping = true;
        signalStop();
        try {
          if (source.kind === 'kernel' && started) await stopKernel(source);
          else await replayRun?.catch(() => {}); // ends at the next tick
          await finish(); // bounded by the flush timeout, also for a replay waiting for its last acknowledgements
          await loop?.catch(() => {});
          const s = stats();
          log.info({ cycles, flows: s.flows, lostFlows: s.lostFlows, vanished: s.vanished, overruns: s.overruns }, 'agent stopped');
          resolveDone();
        } catch (err) {
          rejectDone(err);
          throw err;
        }
      })();
      return stopPromise;
    },
  };
}
