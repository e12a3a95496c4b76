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
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createLogger } from '@tollgate/log';
import { createKafkaTransport } from '@tollgate/kafka';
import { openStore } from '@tollgate/clickhouse';
import { createScenario, DAY } from '@tollgate/sim';
import { expectedCosts } from '../truth-costs.ts';
import { alive, freePort, signalGroup, startTollgate, waitFor, type Proc } from '../support/processes.ts';
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
  /** Keep the work directory (chDB store, broker data) when the run is not exact, for a diagnosis. */
  keepOnMismatch?: boolean;
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
  // The driver supervises the stages as Kubernetes would (restartPolicy Always), from ONE place:
  // a slot per stage, and only the slot's exit handler starts the next process, after the
  // previous one is gone (its 'exit' event: reaped, so its chDB lock is released). A stage that
  // exits on its own with an error (a broker it cannot reach, a fenced partition) is started
  // again after a second; one the driver killed, after the pause the schedule drew. The driver
  // never starts a process itself, so a kill that races with a stage's own exit cannot start two
  // (two sinks: the second one finds the store locked). The agent's exit 0 is the end of its replay.
  interface Slot {
    name: string;
    role: StageName;
    proc: Proc;
    /** The restart pause after the driver's next kill (ms). */
    killPauseMs?: number;
    restarting: boolean;
    finished: boolean;
  }
  const slots = new Map<string, Slot>();
  const all: Proc[] = [];
  let stopping = false;
  let restarts = 0;
  let agentFinished: () => void = () => {};
  const agentDone = new Promise<void>((resolve) => (agentFinished = resolve));
  const launch = (slot: Slot): void => {
    const p = startTollgate(slot.name, slot.role, env, { group: true });
    slot.proc = p;
    slot.restarting = false;
    all.push(p);
    void p.exited.then((code) => {
      if (stopping || slot.proc !== p) return;
      if (slot.role === 'agent' && code === 0) {
        slot.finished = true;
        o.log(`chaos: the agent finished its replay at +${((Date.now() - t0) / 1000).toFixed(1)} s`);
        agentFinished();
        return;
      }
      let pause = 1_000;
      if (code === null && slot.killPauseMs !== undefined) {
        pause = slot.killPauseMs;
      } else {
        restarts++;
        const last = p.log.join('').trim().split('\n').slice(-1)[0]?.slice(0, 400) ?? '';
        o.log(`chaos: ${slot.name} exited with ${code ?? 'a signal'}; restarting it in 1 s (as its Deployment would); its last line: ${last}`);
      }
      slot.killPauseMs = undefined;
      slot.restarting = true;
      setTimeout(() => {
        if (!stopping && slot.proc === p) launch(slot);
      }, pause);
    });
  };
  const stage = (name: string, role: StageName): void => {
    const slot = { name, role, restarting: false, finished: false } as Slot;
    slots.set(name, slot);
    launch(slot);
  };
  let kafka: Transport | undefined;
  let keep = false;
  const undo = () => {
    stopping = true;
    for (const p of all) signalGroup(p, 'SIGKILL');
    try {
      kafkaSh('stop', kafkaEnv);
    } catch {
      /* already down */
    }
    if (keep) o.log(`chaos: work dir kept for a diagnosis: ${work}`);
    else rmSync(work, { recursive: true, force: true });
  };
  emergency.add(undo);
  o.log(`chaos: seed ${o.seed}, scale ${o.scale}, ${o.days} days, ${o.kills} kills of ${o.stages.join('/')}, broker outage ${o.outageS} s, work dir ${work}`);
  try {
    kafkaSh('start', kafkaEnv);
    kafka = await createKafkaTransport({ brokers: [brokers], client: 'platformatic', clientId: 'chaos-driver', logger });
    await kafka.ensureTopics(allTopics(topics), 3);

    // Downstream first.
    stage('sink', 'sink');
    stage('enricher-1', 'enricher');
    stage('enricher-2', 'enricher');
    stage('agent', 'agent');

    let round: StageName[] = [];
    const outageAt = o.outageS > 0 ? Math.floor(o.kills / 2) : -1;
    // The agent's replay may end within seconds: the first kill waits until it has an acknowledged
    // batch (its state file), so it lands in the middle of the replay, then goes without a gap.
    const current = () => [...slots.values()].map((s) => s.proc);
    const stateDir = env.TOLLGATE_AGENT_STATE_DIR!;
    const midReplay = async (): Promise<boolean> => {
      if (slots.get('agent')?.finished) return true;
      return readdirSync(stateDir).some((f) => f.endsWith('.json') && (JSON.parse(readFileSync(join(stateDir, f), 'utf8')) as { ackedSeq: number }).ackedSeq >= 0);
    };
    if (o.stages.includes('agent')) await waitFor('the agent acknowledged a first batch', midReplay, 120_000, current);
    for (let k = 0; k < o.kills; k++) {
      if (k > 0 || !o.stages.includes('agent')) await sleep(o.gapMs[0] + random() * (o.gapMs[1] - o.gapMs[0]));
      if (k === outageAt) {
        o.log(`chaos: broker down for ${o.outageS} s (after ${k} kills)`);
        kafkaSh('stop', kafkaEnv);
        await sleep(o.outageS * 1000);
        kafkaSh('start', kafkaEnv);
        o.log('chaos: broker back');
      }
      // Running stages only: not one waiting for its restart, not the agent once its replay ended.
      const candidates = [...slots.values()].filter((s) => o.stages.includes(s.role) && !s.finished && !s.restarting && alive(s.proc));
      if (candidates.length === 0) {
        o.log(`chaos: kill ${k + 1}/${o.kills}: no running stage to kill`);
        continue;
      }
      // A stage, in rounds: each round kills every stage kind once (so a short run kills each of
      // them; the agent, while its replay lasts), the others in a random order; then a random
      // process of it.
      if (!round.some((r) => candidates.some((c) => c.role === r))) round = [...o.stages];
      const roles = round.filter((r) => candidates.some((c) => c.role === r));
      // The agent first in each round while its replay lasts (it may end within seconds on a fast
      // machine: a kill drawn later would miss it).
      const role = roles.includes('agent') ? 'agent' : roles[Math.floor(random() * roles.length)]!;
      round = round.filter((r) => r !== role);
      const ofRole = candidates.filter((c) => c.role === role);
      const victim = ofRole[Math.floor(random() * ofRole.length)]!;
      const pause = Math.round(random() * 1500);
      const line = `kill ${k + 1}/${o.kills}: SIGKILL ${victim.name} (pid ${victim.proc.child.pid}) at +${((Date.now() - t0) / 1000).toFixed(1)} s, restart in ${pause} ms`;
      kills.push(line);
      o.log(`chaos: ${line}`);
      victim.killPauseMs = pause;
      signalGroup(victim.proc, 'SIGKILL');
      await victim.proc.exited;
    }

    // The agent ends when its replay ends; then every stage drains.
    let giveUp: NodeJS.Timeout | undefined;
    await Promise.race([
      agentDone,
      new Promise<never>((_, reject) => {
        giveUp = setTimeout(() => reject(new Error(`the agent did not finish\n${slots.get('agent')!.proc.log.join('').slice(-4000)}`)), 900_000);
      }),
    ]).finally(() => clearTimeout(giveUp));
    const k = kafka;
    await waitFor('the enrichers to drain flows.raw', () => caughtUp(k, `${prefix}.tollgate-enricher`, topics.raw), 600_000, current);
    await waitFor('the sink to drain flows.enriched', () => caughtUp(k, `${prefix}.tollgate-sink`, topics.enriched), 600_000, current);
    stopping = true;
    // Every process ever started must be gone but the current ones (one per stage).
    const leaked = all.filter((p) => alive(p) && !current().includes(p));
    if (leaked.length > 0) throw new Error(`processes left running beside their stage's current one: ${leaked.map((p) => `${p.name} pid ${p.child.pid}`).join(', ')}`);
    const running = [...slots.values()].filter((s) => alive(s.proc));
    for (const s of running) signalGroup(s.proc, 'SIGTERM');
    for (const s of running) {
      const c = await s.proc.exited;
      if (c !== 0) throw new Error(`${s.name} exited with ${c} on SIGTERM\n${s.proc.log.join('').slice(-4000)}`);
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
      // The other rollup (external destinations of initiators) has no per-role truth of its own:
      // it must hold exactly what the flows (checked against the truth above) give under its filter.
      const dest = (rows: Array<{ k: string; v: string }>) => new Map(rows.map((r) => [r.k, r.v]));
      const destKey = (w: string) => `concat(${w}namespace, '/', ${w}workload_kind, '/', ${w}workload, '|', class, '|', toString(remote_asn), '|', toString(remote_port))`;
      const fromFlows = dest(
        await q(`SELECT ${destKey('local_')} AS k,
                        concat(toString(sum(egress_bytes)), '/', toString(sum(ingress_bytes)), '/', toString(count())) AS v
                 FROM tollgate.flows WHERE role = 'INITIATOR' AND class IN ('internet', 'private', 'direct', 'cloud_service') GROUP BY k`),
      );
      const fromRollup = dest(
        await q(`SELECT ${destKey('')} AS k, concat(toString(sum(egress_bytes)), '/', toString(sum(ingress_bytes)), '/', toString(sum(flows))) AS v FROM tollgate.destinations_hourly GROUP BY k`),
      );
      for (const key of new Set([...fromFlows.keys(), ...fromRollup.keys()])) {
        if (fromFlows.get(key) !== fromRollup.get(key)) mismatches.push(`destinations_hourly ${key}: ${fromRollup.get(key) ?? 'nothing'}, flows give ${fromFlows.get(key) ?? 'nothing'}`);
      }
      const hourlyFlows = Number((await q<{ n: string }>('SELECT toString(sum(flows)) AS n FROM tollgate.workload_hourly'))[0]!.n);
      if (hourlyFlows !== flows) mismatches.push(`workload_hourly counts ${hourlyFlows} flows, flows holds ${flows}`);

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
    keep = mismatches.length > 0 && o.keepOnMismatch === true;
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
      gap: { type: 'string', default: '1000,4000' },
      keep: { type: 'boolean', default: false },
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
    gapMs: values.gap.split(',').map(Number) as [number, number],
    log: (l) => console.log(l),
    keepOnMismatch: values.keep,
  });
  process.exitCode = result.mismatches.length ? 1 : 0;
}
