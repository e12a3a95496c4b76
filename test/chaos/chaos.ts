// The chaos run: the simulated cluster through the agent, two enrichers and the sink as separate
// `tollgate` processes on a real Kafka broker of its own (so it can stop it), while a seeded driver
// SIGKILLs a random stage at random moments and restarts it, and stops the broker once. At the end,
// `flows`, the rollups and the cost view must equal the scenario's ground truth (computed from the
// simulated connections, not by the pipeline) per workload and class, exactly.
//
//   npm run chaos                       # >= 1,000,000 flows, 20 kills, a 30 s broker outage
//   node test/chaos/chaos.ts --seed 7 --kills 20 --scale 32 --outage-s 30 --stages agent,enricher,sink
//
// Every kill is printed with the seed, so a failure can be replayed with the same arguments.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createLogger } from '@tollgate/log';
import { createKafkaTransport } from '@tollgate/kafka';
import { openStore } from '@tollgate/clickhouse';
import { createScenario, DAY } from '@tollgate/sim';
import { expectedCosts } from '../truth-costs.ts';
import { freePort, startTollgate, waitFor, type Proc } from '../support/processes.ts';
import { allTopics, caughtUp, dlqTopic, topicNames, type Transport } from '@tollgate/pipeline';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const KAFKA_SH = join(REPO, 'infra/kafka/kafka.sh');


export type StageName = 'agent' | 'enricher' | 'sink';

export interface ChaosOptions {
  seed: number;
  /** SIGKILLs (each followed by a restart). */
  kills: number;
  /** TOLLGATE_SIM_SCALE of the scenario (about 32,000 flows per unit at 8 days). */
  scale: number;
  days: number;
  /** Broker outage, seconds (0: none). It happens once, half way through the kills. */
  outageS: number;
  /** Which stages may be killed. */
  stages: StageName[];
  /** Broker port of the run's own broker (the controller takes port + 1); 0: two free ports. */
  port: number;
  /** Pause between kills, ms: uniform in [min, max]. */
  gapMs: [number, number];
  log: (line: string) => void;
}

export interface ChaosResult {
  flows: number;
  kills: string[];
  /** Stages that exited on their own with an error and were started again. */
  restarts: number;
  mismatches: string[];
  seconds: number;
}

/** A small seeded PRNG (mulberry32): the kill schedule replays from the seed. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function kafkaSh(cmd: 'start' | 'stop' | 'ensure', env: NodeJS.ProcessEnv): void {
  execFileSync('bash', [KAFKA_SH, cmd], { env, stdio: ['ignore', 'ignore', 'inherit'] });
}

/** What an interrupted run (SIGINT/SIGTERM of the driver) must still undo: its processes and its broker. */
const emergency = new Set<() => void>();
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    for (const undo of emergency) undo();
    process.exit(130);
  });
}

export async function runChaos(o: ChaosOptions): Promise<ChaosResult> {
  const t0 = Date.now();
  // Another run on this machine may hold a fixed port: by default, ask the kernel for two.
  const port = o.port || (await freePort());
  const controllerPort = o.port ? o.port + 1 : await freePort();
  const random = rng(o.seed);
  const work = mkdtempSync(join(tmpdir(), 'tollgate-chaos-'));
  const kafkaEnv = { ...process.env, KAFKA_PORT: String(port), KAFKA_CONTROLLER_PORT: String(controllerPort), TOLLGATE_KAFKA_DIR: join(work, 'kafka') };
  const brokers = `127.0.0.1:${port}`;
  const prefix = `chaos-${o.seed}`;
  o.log(`chaos: own broker on 127.0.0.1:${port} (controller ${controllerPort})`);
  const topics = topicNames(prefix);
  const dataDir = join(work, 'chdb');
  mkdirSync(dataDir);
  const simStart = Math.floor(Date.now() / DAY) * DAY - o.days * DAY;
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    TOLLGATE_KAFKA_BROKERS: brokers,
    TOLLGATE_TOPIC_PREFIX: prefix,
    TOLLGATE_DATA_DIR: dataDir,
    TOLLGATE_CLICKHOUSE_URL: '',
    TOLLGATE_SIM_SEED: String(o.seed),
    TOLLGATE_SIM_DAYS: String(o.days),
    TOLLGATE_SIM_SCALE: String(o.scale),
    TOLLGATE_SIM_START: new Date(simStart).toISOString(),
    TOLLGATE_AGENT_SOURCE: 'sim',
    TOLLGATE_K8S_SOURCE: 'sim',
    TOLLGATE_NODE_NAME: '',
    TOLLGATE_METRICS_PORT: '0',
    TOLLGATE_LOG_LEVEL: 'info',
    TOLLGATE_SINK_BATCH_ROWS: '5000',
    // The agent's acknowledged position survives its SIGKILLs here.
    TOLLGATE_AGENT_STATE_DIR: join(work, 'agent-state'),
  };
  const scenario = createScenario({ seed: o.seed, days: o.days, scale: o.scale, start: simStart });
  const logger = createLogger('warn');
  const kills: string[] = [];
  const procs = new Map<string, Proc>();
  const all: Proc[] = [];
  // The driver supervises the stages as Kubernetes would (restartPolicy Always): a stage that
  // exits on its own with an error (a broker it cannot reach at start, a fetch that keeps
  // failing) is started again after a second; the agent's exit 0 is the end of its replay.
  let stopping = false;
  let restarts = 0;
  let agentFinished: () => void = () => {};
  const agentDone = new Promise<void>((resolve) => (agentFinished = resolve));
  let agentHasFinished = false;
  const start = (name: string, role: StageName): Proc => {
    const p = startTollgate(name, role, env);
    procs.set(name, p);
    all.push(p);
    void p.exited.then((code) => {
      if (stopping || procs.get(name) !== p) return;
      if (role === 'agent' && code === 0) {
        agentHasFinished = true;
        agentFinished();
        return;
      }
      if (code === null) return; // killed by the driver, which restarts it
      restarts++;
      o.log(`chaos: ${name} exited with ${code}; restarting it in 1 s (as its Deployment would)`);
      setTimeout(() => {
        if (!stopping && procs.get(name) === p) start(name, role);
      }, 1_000);
    });
    return p;
  };
  let kafka: Transport | undefined;
  const undo = () => {
    stopping = true;
    for (const p of procs.values()) if (p.child.exitCode === null) p.child.kill('SIGKILL');
    try {
      kafkaSh('stop', kafkaEnv);
    } catch {
      /* already down */
    }
    rmSync(work, { recursive: true, force: true });
  };
  emergency.add(undo);
  o.log(`chaos: seed ${o.seed}, scale ${o.scale}, ${o.days} days, ${o.kills} kills of ${o.stages.join('/')}, broker outage ${o.outageS} s, work dir ${work}`);
  try {
    kafkaSh('start', kafkaEnv);
    kafka = await createKafkaTransport({ brokers: [brokers], client: 'platformatic', clientId: 'chaos-driver', logger });
    await kafka.ensureTopics(allTopics(topics), 3);

    // Downstream first.
    start('sink', 'sink');
    start('enricher-1', 'enricher');
    start('enricher-2', 'enricher');
    start('agent', 'agent');

    const outageAt = o.outageS > 0 ? Math.floor(o.kills / 2) : -1;
    for (let k = 0; k < o.kills; k++) {
      await sleep(o.gapMs[0] + random() * (o.gapMs[1] - o.gapMs[0]));
      if (k === outageAt) {
        o.log(`chaos: broker down for ${o.outageS} s (after ${k} kills)`);
        kafkaSh('stop', kafkaEnv);
        await sleep(o.outageS * 1000);
        kafkaSh('start', kafkaEnv);
        o.log('chaos: broker back');
      }
      // A finished agent (the replay ended) is not restarted; it cannot be killed any more.
      const candidates = [...procs.values()].filter((p) => o.stages.includes(p.command as StageName) && p.child.exitCode === null && !(p.command === 'agent' && agentHasFinished));
      if (candidates.length === 0) break;
      const victim = candidates[Math.floor(random() * candidates.length)]!;
      const line = `kill ${k + 1}/${o.kills}: SIGKILL ${victim.name} at +${((Date.now() - t0) / 1000).toFixed(1)} s`;
      kills.push(line);
      o.log(`chaos: ${line}`);
      victim.child.kill('SIGKILL');
      await victim.exited;
      await sleep(random() * 1500);
      start(victim.name, victim.command as StageName);
    }

    // The agent ends when its replay ends; then every stage drains.
    let giveUp: NodeJS.Timeout | undefined;
    await Promise.race([
      agentDone,
      new Promise<never>((_, reject) => {
        giveUp = setTimeout(() => reject(new Error(`the agent did not finish\n${procs.get('agent')!.log.join('').slice(-4000)}`)), 900_000);
      }),
    ]).finally(() => clearTimeout(giveUp));
    const k = kafka;
    await waitFor('the enrichers to drain flows.raw', () => caughtUp(k, `${prefix}.tollgate-enricher`, topics.raw), 600_000, () => all);
    await waitFor('the sink to drain flows.enriched', () => caughtUp(k, `${prefix}.tollgate-sink`, topics.enriched), 600_000, () => all);
    stopping = true;
    for (const p of procs.values()) if (p.child.exitCode === null) p.child.kill('SIGTERM');
    for (const p of procs.values()) {
      const c = await p.exited;
      if (c !== 0 && c !== null) throw new Error(`${p.name} exited with ${c} on SIGTERM\n${p.log.join('').slice(-4000)}`);
    }

    // Where the messages are (for a failure's diagnosis).
    const total = async (topic: string) => [...(await k.endOffsets(topic)).values()].reduce((a, b) => a + b, 0);
    o.log(
      `chaos: topics: raw ${await total(topics.raw)} messages (DLQ ${await total(dlqTopic(topics.raw))}), enriched ${await total(topics.enriched)} (DLQ ${await total(dlqTopic(topics.enriched))})`,
    );

    // Compare with the ground truth.
    const mismatches: string[] = [];
    const store = await openStore({ url: '', user: 'default', password: '', database: 'tollgate', dataDir }, logger);
    let flows = 0;
    try {
      const q = async <T>(query: string): Promise<T[]> => (await store.client.query({ query, format: 'JSONEachRow' })).json<T>();
      type Bytes = { w: string; class: string; e: string; i: string };
      const truth = new Map(scenario.truth().map((r) => [`${r.namespace}/${r.workload_kind}/${r.workload}|${r.class}`, `${r.egress_bytes}/${r.ingress_bytes}`]));
      const compare = (what: string, rows: Bytes[]) => {
        const got = new Map(rows.map((r) => [`${r.w}|${r.class}`, `${r.e}/${r.i}`]));
        for (const key of new Set([...truth.keys(), ...got.keys()])) {
          if (truth.get(key) !== got.get(key)) mismatches.push(`${what} ${key}: stored ${got.get(key) ?? 'nothing'}, truth ${truth.get(key) ?? 'nothing'} (egress/ingress bytes)`);
        }
      };
      compare(
        'flows',
        await q<Bytes>(`SELECT concat(local_namespace, '/', local_workload_kind, '/', local_workload) AS w, class, toString(sum(egress_bytes)) AS e, toString(sum(ingress_bytes)) AS i
                        FROM tollgate.flows WHERE local_workload != '' GROUP BY w, class`),
      );
      compare(
        'workload_hourly',
        await q<Bytes>(`SELECT concat(namespace, '/', workload_kind, '/', workload) AS w, class, toString(sum(egress_bytes)) AS e, toString(sum(ingress_bytes)) AS i
                        FROM tollgate.workload_hourly WHERE workload != '' GROUP BY w, class`),
      );
      flows = Number((await q<{ n: string }>('SELECT toString(count()) AS n FROM tollgate.flows'))[0]!.n);

      const expected = expectedCosts(scenario);
      for (const c of await store.costByWorkload({ top: 100_000 })) {
        const w = `${c.namespace}/${c.workload_kind}/${c.workload}`;
        const want = expected.get(w) ?? 0;
        if (Math.abs(c.total_usd - want) > 1e-9) mismatches.push(`cost ${w}: ${c.total_usd} USD, truth ${want}`);
      }
    } finally {
      await store.close();
    }
    const seconds = (Date.now() - t0) / 1000;
    o.log(`chaos: ${flows.toLocaleString('en-US')} flows stored, ${kills.length} kills, ${restarts} restarts after an exit, ${mismatches.length} mismatches, ${seconds.toFixed(0)} s (seed ${o.seed})`);
    for (const m of mismatches) o.log(`chaos: MISMATCH ${m}`);
    return { flows, kills, restarts, mismatches, seconds };
  } finally {
    emergency.delete(undo);
    await kafka?.close().catch(() => {});
    undo();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({
    options: {
      seed: { type: 'string', default: String(Date.now() % 100_000) },
      kills: { type: 'string', default: '20' },
      scale: { type: 'string', default: '32' },
      days: { type: 'string', default: '8' },
      'outage-s': { type: 'string', default: '30' },
      stages: { type: 'string', default: 'agent,enricher,sink' },
      port: { type: 'string', default: '0' },
    },
  });
  const stages = values.stages.split(',').map((s) => s.trim()) as StageName[];
  for (const s of stages) if (!['agent', 'enricher', 'sink'].includes(s)) throw new Error(`--stages: unknown stage ${s} (agent, enricher, sink)`);
  const result = await runChaos({
    seed: Number(values.seed),
    kills: Number(values.kills),
    scale: Number(values.scale),
    days: Number(values.days),
    outageS: Number(values['outage-s']),
    stages,
    port: Number(values.port),
    gapMs: [1_000, 4_000],
    log: (l) => console.log(l),
  });
  process.exitCode = result.mismatches.length ? 1 : 0;
}
