// npm run bench: Tollgate's throughput on this machine.
//   1. the agent and enricher stages alone, in this process (they also count flows and rows),
//      and the Kafka client comparison (@platformatic/kafka vs kafkajs) on the real broker;
//   2. the pipeline end to end through the real broker: agent, enricher and sink as three
//      `tollgate` processes, as they are deployed (median of 3 rounds after a warm-up round),
//      with the CPU each process and the broker spent in the round (test/bench/cpu.ts);
//   3. the sink stage alone, in this process (chDB);
//   4. the baseline: the whole pipeline in one process on the in-process transport.
// The last line is one JSON object with every figure by name. Ratios are against the baseline
// measured in the same run. Target: pipeline_flows_per_s >= 50,000 on 2 cores.
// TOLLGATE_BENCH_SECTIONS (comma-separated: kube, kafka, pipeline, sink, formats, inproc,
// analytics, agent; default all) runs only some sections after the agent and enricher stages.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createLogger } from '@tollgate/log';
import { SchemaRegistry, Family, type RawFlowBatch, type EnrichedFlowBatch } from '@tollgate/schema';
import { createScenario, DAY } from '@tollgate/sim';
import { replayMessages } from '@tollgate/agent';
import { createEnrichContext, loadEnricherSettings } from '@tollgate/enricher';
import { openStore } from '@tollgate/clickhouse';
import { MemoryTransport, allTopics, caughtUp, topicNames, type Transport } from '@tollgate/pipeline';
import { createKafkaTransport } from '@tollgate/kafka';
import { createRuntime, runSimPipeline } from '@tollgate/cli';
import { benchKafkaClients } from './kafka-clients.ts';
import { benchAnalytics } from './analytics.ts';
import { benchAgent } from './agent.ts';
import { benchEnrichThroughput, benchEnricherKube } from './enricher.ts';
import { benchSinkStage } from './sink-stage.ts';
import { benchInsertFormats } from './insert-formats.ts';
import { CpuWatch, brokerPid } from './cpu.ts';

const TARGET = 50_000;
const BROKERS = process.env.TOLLGATE_KAFKA_BROKERS || '127.0.0.1:9092';
const SCALE = Number(process.env.TOLLGATE_BENCH_SCALE || 16);
const SECTIONS = new Set((process.env.TOLLGATE_BENCH_SECTIONS || 'kube,kafka,pipeline,sink,formats,inproc,analytics,agent').split(','));
const on = (section: string) => SECTIONS.has(section);
const BIN = fileURLToPath(new URL('../../bin/tollgate.mjs', import.meta.url));
const log = (s: string) => process.stderr.write(`${s}\n`);
const rate = (n: number, s: number) => Math.round(n / s);
const fmt = (n: number) => n.toLocaleString('en-US');

const start = Math.floor(Date.now() / DAY) * DAY - 8 * DAY;
const scenario = createScenario({ seed: 1, days: 8, scale: SCALE, start });
const registry = SchemaRegistry.load();
const rawCodec = registry.codec<RawFlowBatch>(Family.raw);
const enrichedCodec = registry.codec<EnrichedFlowBatch>(Family.enriched);
const figures: Record<string, number | string | boolean> = { scale: SCALE };

// 1a. Agent: conntrack ticks -> deltas -> Avro batches.
const t = performance.now();
const rawMessages: Buffer[] = [];
let flows = 0;
for (const node of scenario.nodes) {
  const r = replayMessages(scenario.ticks(node), { cluster: scenario.cluster, node, agentId: `${node}@bench`, batchMaxFlows: 500, registry });
  rawMessages.push(...r.messages);
  flows += r.flows;
}
let s = (performance.now() - t) / 1000;
figures.flows = flows;
figures.agent_flows_per_s = rate(flows, s);
log(`agent     ${fmt(flows)} flows in ${s.toFixed(2)} s: ${fmt(rate(flows, s))} flows/s (${rawMessages.length} messages)`);

// 1b. Enricher: decode, enrich, encode, against decode + encode alone (test/bench/enricher.ts).
const ctx = createEnrichContext(loadEnricherSettings({ ...scenario.enricherEnv, TOLLGATE_K8S_SOURCE: 'sim' }));
for (const e of scenario.inventory) ctx.index.apply(e);
const enr = benchEnrichThroughput({ rawMessages, rawCodec, enrichedCodec, ctx, flows });
Object.assign(figures, enr.figures);
const enriched: EnrichedFlowBatch[] = enr.outputs;
const records = enr.records;
// The same batches as Kafka message values, for the sink stage alone (section 3), in the order a
// partition delivers them: by window, the nodes interleaved (their agents run at once), not node
// after node (which would cut a chunk at every node's month boundary: 10 chunks instead of 4).
const enrichedMessages: Buffer[] = enriched
  .filter((b) => b.flows.length > 0)
  .map((b, i) => ({ b, i }))
  .sort((x, y) => x.b.window_start - y.b.window_start || x.i - y.i)
  .map(({ b }) => enrichedCodec.encode(b));
figures.records = records;
log(`enricher  ${fmt(flows)} flows -> ${fmt(records)} records: ${fmt(enr.figures.enricher_flows_per_s)} flows/s (decode + encode alone: ${fmt(enr.figures.enricher_codec_only_flows_per_s)}; x${enr.figures.enricher_vs_codec_only})`);
// 1b'. The enricher's inventory on a real kube-apiserver: 20k pods, 15k ReplicaSets, 1k nodes.
if (on('kube')) Object.assign(figures, await benchEnricherKube());

// 1c. Kafka clients on the real broker, with Tollgate's own messages (this also warms the
//     broker's JIT before the pipeline rounds).
if (on('kafka')) {
  const clients = await benchKafkaClients({ brokers: [BROKERS], messages: 1000, flowsPerMessage: 500, rounds: 2 });
  for (const [name, f] of Object.entries(clients)) {
    for (const [k, v] of Object.entries(f)) figures[`kafka_${name}_${k}`] = v;
    log(`kafka ${name.padEnd(12)} produce ${fmt(f.produce_flows_per_s)} flows/s, consume ${fmt(f.consume_flows_per_s)} flows/s`);
  }
  figures.kafka_produce_ratio_platformatic_vs_kafkajs = Number((clients.platformatic.produce_msgs_per_s / clients.kafkajs.produce_msgs_per_s).toFixed(2));
  figures.kafka_consume_ratio_platformatic_vs_kafkajs = Number((clients.platformatic.consume_msgs_per_s / clients.kafkajs.consume_msgs_per_s).toFixed(2));
}

// 2. End to end through Kafka: three processes, as deployed, on fresh topics and a fresh store
//    each round; the median of ROUNDS rounds. Measured first, while no other engine in this
//    process is merging parts in the background.
const ROUNDS = Number(process.env.TOLLGATE_BENCH_ROUNDS || 3);
type StageCpu = Partial<Record<'agent' | 'enricher' | 'sink' | 'broker', number>>;
async function pipelineRound(kafka: Transport, round: number): Promise<{ seconds: number; inserts: number; cpu: StageCpu }> {
  const prefix = `bench-${process.pid}-${Date.now()}-${round < 0 ? 'warmup' : round}`;
  const procDir = mkdtempSync(join(tmpdir(), 'tollgate-bench-e2e-'));
  const env = {
    ...process.env,
    TOLLGATE_KAFKA_BROKERS: BROKERS,
    TOLLGATE_TOPIC_PREFIX: prefix,
    TOLLGATE_DATA_DIR: procDir,
    TOLLGATE_CLICKHOUSE_URL: '',
    TOLLGATE_SIM_SEED: '1',
    TOLLGATE_SIM_DAYS: '8',
    TOLLGATE_SIM_SCALE: String(SCALE),
    TOLLGATE_SIM_START: new Date(start).toISOString(),
    TOLLGATE_AGENT_SOURCE: 'sim',
    TOLLGATE_K8S_SOURCE: 'sim',
    TOLLGATE_NODE_NAME: '',
    TOLLGATE_LOG_LEVEL: 'info',
    // Three stages on one machine: each its own free metrics port (the default 9464 would clash).
    TOLLGATE_METRICS_PORT: '0',
  };
  const topics = topicNames(prefix);
  await kafka.ensureTopics(allTopics(topics), 3);
  const run = (command: string) => {
    const child = spawn(process.execPath, [BIN, command], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let out = '';
    const started = new Promise<void>((resolve, reject) => {
      child.stderr!.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('"msg":"started"')) resolve();
      });
      child.on('exit', (code) => reject(new Error(`${command} exited with ${code}: ${out.slice(-2000)}`)));
    });
    started.catch(() => {});
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    return { child, started, exited, log: () => out };
  };
  const sink = run('sink');
  const enricher = run('enricher');
  await Promise.all([sink.started, enricher.started]);
  // The CPU each process spends from t0 to caught up (the agent's from its start): what the round
  // costs the machine, against its cores (the pipeline_vs_sink_stage ceiling below).
  const cpu = new CpuWatch();
  cpu.watch('sink', sink.child.pid);
  cpu.watch('enricher', enricher.child.pid);
  cpu.watch('broker', brokerPid());
  const before = cpu.readings();
  const t0 = performance.now();
  const agent = run('agent');
  cpu.watch('agent', agent.child.pid);
  const agentCode = await agent.exited;
  if (agentCode !== 0) throw new Error(`agent failed: ${agent.log().slice(-2000)}`);
  while (!(await caughtUp(kafka, `${prefix}.tollgate-enricher`, topics.raw)) || !(await caughtUp(kafka, `${prefix}.tollgate-sink`, topics.enriched))) {
    await new Promise((r) => setTimeout(r, 50));
  }
  const seconds = (performance.now() - t0) / 1000;
  const after = cpu.readings();
  cpu.stop();
  const used: StageCpu = {};
  for (const k of ['agent', 'enricher', 'sink', 'broker'] as const) {
    if (after[k] !== undefined) used[k] = after[k] - (before[k] ?? 0);
  }
  sink.child.kill('SIGTERM');
  enricher.child.kill('SIGTERM');
  await Promise.all([sink.exited, enricher.exited]);
  const stopped = sink.log().split('\n').find((l) => l.includes('"msg":"sink stopped"'));
  const stats = stopped ? (JSON.parse(stopped) as { rows: number; inserts: number }) : { rows: 0, inserts: 0 };
  if (stats.rows !== records) throw new Error(`pipeline round ${round}: the sink stored ${stats.rows} rows, expected ${records}`);
  rmSync(procDir, { recursive: true, force: true });
  const cpuText = Object.entries(used).map(([k, v]) => `${k} ${v.toFixed(2)}`).join(', ');
  log(`pipeline round ${round < 0 ? 'warm-up' : `${round + 1}/${ROUNDS}`}: ${fmt(flows)} flows in ${seconds.toFixed(2)} s: ${fmt(rate(flows, seconds))} flows/s (${stats.inserts} inserts; CPU s: ${cpuText || 'not measured'})`);
  return { seconds, inserts: stats.inserts, cpu: used };
}

// One warm-up round first (JIT of the broker and the processes' code paths, page cache), not counted.
let pipelineSeconds = NaN;
let pipelineCpu: StageCpu = {};
if (on('pipeline')) {
  const kafka: Transport = await createKafkaTransport({ brokers: [BROKERS], client: 'platformatic', clientId: 'bench', logger: createLogger('warn') });
  log('pipeline warm-up round (not counted):');
  await pipelineRound(kafka, -1);
  const rounds: Array<{ seconds: number; inserts: number; cpu: StageCpu }> = [];
  for (let r = 0; r < ROUNDS; r++) rounds.push(await pipelineRound(kafka, r));
  await kafka.close();
  const median = [...rounds].sort((a, b) => a.seconds - b.seconds)[Math.floor(rounds.length / 2)]!;
  pipelineSeconds = median.seconds;
  pipelineCpu = median.cpu;
  figures.pipeline_rounds_flows_per_s = rounds.map((x) => rate(flows, x.seconds)).join(' ');
}

// 3. The sink stage alone on the same enriched messages (decode, validate, encode, store), and
//    the sink's store path before issue 9 as its baseline, in this process.
const dataDir = mkdtempSync(join(tmpdir(), 'tollgate-bench-'));
const logger = createLogger('warn');
if (on('sink')) {
  const sinkStage = await benchSinkStage({ messages: enrichedMessages, rows: records, dataDir, registry, logger });
  figures.sink_stage_flows_per_s = rate(flows, sinkStage.stageSeconds);
  figures.sink_rows_per_s = rate(records, sinkStage.stageSeconds);
  figures.sink_legacy_flows_per_s = rate(flows, sinkStage.legacySeconds);
  figures.sink_legacy_rows_per_s = rate(records, sinkStage.legacySeconds);
  figures.sink_vs_legacy = Number((sinkStage.legacySeconds / sinkStage.stageSeconds).toFixed(2));
  figures.sink_cpu_s = Number(sinkStage.stageCpuSeconds.toFixed(2));
  figures.sink_legacy_cpu_s = Number(sinkStage.legacyCpuSeconds.toFixed(2));
  figures.sink_cpu_vs_legacy = Number((sinkStage.legacyCpuSeconds / sinkStage.stageCpuSeconds).toFixed(2));
  log(`sink stage ${fmt(records)} rows in ${sinkStage.stageSeconds.toFixed(2)} s: ${fmt(rate(records, sinkStage.stageSeconds))} rows/s, ${fmt(rate(flows, sinkStage.stageSeconds))} flows/s (rounds ${sinkStage.stageRounds.map((x) => x.toFixed(2)).join(' ')} s)`);
  log(`sink before issue 9 (baseline): ${sinkStage.legacySeconds.toFixed(2)} s: ${fmt(rate(records, sinkStage.legacySeconds))} rows/s, ${fmt(rate(flows, sinkStage.legacySeconds))} flows/s (rounds ${sinkStage.legacyRounds.map((x) => x.toFixed(2)).join(' ')} s; stage x${figures.sink_vs_legacy})`);
  log(`sink CPU: stage ${figures.sink_cpu_s} s, before issue 9 ${figures.sink_legacy_cpu_s} s (x${figures.sink_cpu_vs_legacy})`);
}

// 3b. The insert formats, each generated from FLOW_TABLE, on the same messages (test/bench/insert-formats.ts).
if (on('formats')) {
  const byFormat = await benchInsertFormats({ messages: enrichedMessages, dataDir, registry, logger, chunkRows: 100_000 });
  const json = byFormat.JSONCompactEachRow;
  for (const [format, f] of Object.entries(byFormat)) {
    const key = format === 'JSONCompactEachRow' ? 'json' : format === 'TabSeparated' ? 'tsv' : format === 'CSV' ? 'csv' : 'arrow';
    figures[`format_${key}_encode_s`] = Number(f.encodeSeconds.toFixed(3));
    figures[`format_${key}_insert_s`] = Number(f.insertSeconds.toFixed(3));
    if (key !== 'arrow') figures[`format_${key}_mib`] = Number((f.bytes / 2 ** 20).toFixed(1));
    if (key !== 'json') figures[`format_${key}_vs_json`] = Number(((json.encodeSeconds + json.insertSeconds) / (f.encodeSeconds + f.insertSeconds)).toFixed(2));
    log(`format ${format.padEnd(18)} ${fmt(records)} rows: encode ${f.encodeSeconds.toFixed(2)} s, insert ${f.insertSeconds.toFixed(2)} s${key === 'arrow' ? ' (Arrow buffers built in the insert)' : `, ${(f.bytes / 2 ** 20).toFixed(1)} MiB`}`);
  }
}

// 4. Baseline: the whole pipeline in this process, on the in-process transport.
if (on('inproc')) {
  const rt = createRuntime({ TOLLGATE_LOG_LEVEL: 'warn' });
  const store = await openStore({ url: '', user: 'default', password: '', database: 'bench_inproc', dataDir }, logger);
  await store.migrate();
  const memory = new MemoryTransport();
  await memory.ensureTopics(allTopics(rt.topics), 3);
  const inproc = await runSimPipeline({ rt, env: {}, scenario, transport: memory, store });
  await store.close();
  figures.in_process_flows_per_s = rate(inproc.flows, inproc.seconds);
  log(`in-process pipeline (baseline): ${fmt(inproc.flows)} flows in ${inproc.seconds.toFixed(2)} s: ${fmt(rate(inproc.flows, inproc.seconds))} flows/s`);
}

// 5. Analytics: the report and anomaly queries over 20M raw rows, each with its raw-table baseline (test/bench/analytics.ts).
if (on('analytics')) Object.assign(figures, await benchAnalytics(dataDir, logger, log));

rmSync(dataDir, { recursive: true, force: true });
if (on('pipeline')) {
  s = pipelineSeconds;
  figures.pipeline_seconds = Number(s.toFixed(2));
  figures.pipeline_flows_per_s = rate(flows, s);
  if (on('inproc')) figures.pipeline_vs_in_process = Number((rate(flows, s) / (figures.in_process_flows_per_s as number)).toFixed(2));
  if (on('sink')) figures.pipeline_vs_sink_stage = Number((rate(flows, s) / (figures.sink_stage_flows_per_s as number)).toFixed(2));
  // What the median round cost the machine. With C CPU seconds in all, on N cores, the round takes
  // at least C / N seconds: flows * N / C is the fastest this pipeline could go here, and its ratio
  // to the sink stage is the highest pipeline_vs_sink_stage these processes could reach.
  const cpuTotal = Object.values(pipelineCpu).reduce((a, b) => a + b, 0);
  if (cpuTotal > 0) {
    for (const [k, v] of Object.entries(pipelineCpu)) figures[`pipeline_cpu_${k}_s`] = Number(v.toFixed(2));
    figures.pipeline_cpu_s = Number(cpuTotal.toFixed(2));
    figures.pipeline_cores_busy = Number((cpuTotal / s).toFixed(2));
    figures.cores = availableParallelism();
    const ceiling = (flows * availableParallelism()) / cpuTotal;
    figures.pipeline_ceiling_flows_per_s = Math.round(ceiling);
    if (on('sink')) figures.pipeline_vs_sink_stage_ceiling = Number((ceiling / (figures.sink_stage_flows_per_s as number)).toFixed(2));
    log(`pipeline CPU (median round): ${Object.entries(pipelineCpu).map(([k, v]) => `${k} ${v.toFixed(2)} s`).join(', ')}; ${cpuTotal.toFixed(2)} s in all, ${figures.pipeline_cores_busy} of ${availableParallelism()} cores busy; at most ${fmt(Math.round(ceiling))} flows/s on ${availableParallelism()} cores (pipeline_vs_sink_stage at most ${figures.pipeline_vs_sink_stage_ceiling ?? '?'})`);
  }
  figures.target_flows_per_s = TARGET;
  figures.meets_target = rate(flows, s) >= TARGET;
  log(`pipeline through Kafka (3 processes): ${fmt(flows)} flows in ${s.toFixed(2)} s: ${fmt(rate(flows, s))} flows/s (x${figures.pipeline_vs_in_process ?? '?'} the in-process baseline, x${figures.pipeline_vs_sink_stage ?? '?'} the sink stage; target ${fmt(TARGET)})`);
}
if (on('agent')) Object.assign(figures, await benchAgent());
console.log(JSON.stringify(figures));
process.exit(0);
