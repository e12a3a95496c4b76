// The simulated cluster through agent -> enricher -> sink on one transport, in this process:
// what `tollgate demo` runs, and the in-process baseline of the benchmark.
import { hostname } from 'node:os';
import { loadSettings, settings, type Env } from '@tollgate/config';
import { componentLogger } from '@tollgate/log';
import type { Store } from '@tollgate/clickhouse';
import { enricherFromEnv, type EnricherStats } from '@tollgate/enricher';
import { agentsFromConfig, loadAgentConfig } from '@tollgate/agent';
import { createSink, type SinkStats } from '@tollgate/sink';
import { caughtUp, Lifecycle, type Transport } from '@tollgate/pipeline';
import { groupId, type Runtime } from './runtime.ts';
import { withScenarioEnv, type Scenario } from './sim.ts';

export interface PipelineProgress {
  /** Latest simulated tick shipped by any agent (ms), 0 before the first. */
  tick: number;
  flows: number;
  records: number;
  rows: number;
}

export interface PipelineResult {
  flows: number;
  enricher: EnricherStats;
  sink: SinkStats;
  seconds: number;
}

export async function runSimPipeline(o: {
  rt: Runtime;
  env: Env;
  scenario: Scenario;
  transport: Transport;
  store: Store;
  onProgress?: (p: PipelineProgress) => void;
  progressMs?: number;
}): Promise<PipelineResult> {
  const { rt, env, scenario, transport, store } = o;
  const t0 = performance.now();
  const sink = createSink({
    transport,
    store,
    topics: rt.topics,
    settings: loadSettings(settings.sink, env),
    groupId: groupId(rt, 'sink'),
    logger: componentLogger(rt.logger, 'sink'),
    registry: rt.registry,
  });
  const enricher = enricherFromEnv({
    env: withScenarioEnv({ ...env, TOLLGATE_K8S_SOURCE: 'sim' }, scenario),
    transport,
    topics: rt.topics,
    registry: rt.registry,
    logger: componentLogger(rt.logger, 'enricher'),
    sim: scenario.inventory,
    groupId: groupId(rt, 'enricher'),
  });
  const producer = await transport.producer(`sim-agents-${hostname()}`);
  const agents = agentsFromConfig({ ...loadAgentConfig(env), source: 'sim', output: 'kafka', nodeName: '' }, { registry: rt.registry, logger: rt.logger, topic: rt.topics.raw, producer, scenario });
  const flows = () => agents.reduce((n, a) => n + a.stats().flows, 0);
  const life = new Lifecycle();
  const progress = o.onProgress
    ? setInterval(() => {
        o.onProgress!({ tick: Math.max(...agents.map((a) => a.stats().lastTick)), flows: flows(), records: enricher.stats().records, rows: sink.stats().rows });
      }, o.progressMs ?? 1000)
    : undefined;
  try {
    // Downstream first: the sink, then the enricher, then the agents.
    await life.start([sink, enricher, ...agents]);
    await Promise.race([Promise.all(agents.map((a) => a.done)), sink.done, enricher.done]);
    await drain(rt, transport, [sink.done, enricher.done]);
  } finally {
    clearInterval(progress);
    await life.stop();
    await producer.close();
  }
  return { flows: flows(), enricher: enricher.stats(), sink: sink.stats(), seconds: (performance.now() - t0) / 1000 };
}

/** Waits until the enricher and the sink have committed everything produced so far. */
async function drain(rt: Runtime, transport: Transport, failures: Promise<void>[]): Promise<void> {
  let failed: unknown;
  for (const f of failures) f.catch((e: unknown) => (failed ??= e));
  while (!(await caughtUp(transport, groupId(rt, 'enricher'), rt.topics.raw)) || !(await caughtUp(transport, groupId(rt, 'sink'), rt.topics.enriched))) {
    if (failed) throw failed;
    await new Promise((r) => setTimeout(r, 50));
  }
  if (failed) throw failed;
}
