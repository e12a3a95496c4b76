// End to end on the real parts: a Kafka broker (infra/kafka/kafka.sh ensure), chDB, and the
// agent, enricher and sink as three separate `tollgate` processes, each its own Kafka client.
// The simulated cluster's ground truth (computed from the scenario, not by the pipeline) must
// come out of ClickHouse exactly: bytes per workload per class, costs at the seed prices, and
// the planted anomaly and nothing else, although the sink is killed (SIGKILL) mid-stream and
// restarted, and a poison message sits in the raw topic.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '@tollgate/log';
import { createKafkaTransport } from '@tollgate/kafka';
import { openStore } from '@tollgate/clickhouse';
import { createScenario, DAY } from '@tollgate/sim';
import { expectedCosts } from './truth-costs.ts';
import { freePort, startTollgate as start, waitFor as waitUntil, type Proc } from './support/processes.ts';
import { allTopics, caughtUp, dlqTopic, DlqHeaders, topicNames } from '@tollgate/pipeline';

const BROKERS = process.env.TOLLGATE_TEST_KAFKA ?? '127.0.0.1:9092';


/** Prometheus text -> a sum over the series of `name` that carry every label given. */
function parseMetrics(text: string): (name: string, labels?: Record<string, string>) => number | undefined {
  const series: Array<{ name: string; labels: string; value: number }> = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-z_][a-z0-9_]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (m) series.push({ name: m[1]!, labels: m[2] ?? '', value: Number(m[3]) });
  }
  return (name, labels = {}) => {
    const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
    const hits = series.filter((x) => x.name === name && want.every((w) => x.labels.split(',').includes(w)));
    return hits.length ? hits.reduce((a, x) => a + x.value, 0) : undefined;
  };
}

const waitFor = (what: string, cond: () => Promise<boolean>, timeoutMs: number, procs: Proc[]) => waitUntil(what, cond, timeoutMs, () => procs);

const sum = (m: Map<number, number>) => [...m.values()].reduce((a, b) => a + b, 0);


test('agent -> Kafka -> enricher -> Kafka -> sink -> chDB: exact bytes, costs and anomalies, across a sink crash', { timeout: 300_000 }, async () => {
  const prefix = `e2e-${process.pid}-${Date.now()}`;
  const topics = topicNames(prefix);
  const dataDir = mkdtempSync(join(tmpdir(), 'tollgate-e2e-'));
  const simStart = Math.floor(Date.now() / DAY) * DAY - 8 * DAY;
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    TOLLGATE_KAFKA_BROKERS: BROKERS,
    TOLLGATE_TOPIC_PREFIX: prefix,
    TOLLGATE_DATA_DIR: dataDir,
    TOLLGATE_CLICKHOUSE_URL: '',
    TOLLGATE_SIM_SEED: '7',
    TOLLGATE_SIM_DAYS: '8',
    TOLLGATE_SIM_START: new Date(simStart).toISOString(),
    TOLLGATE_AGENT_SOURCE: 'sim',
    TOLLGATE_K8S_SOURCE: 'sim',
    TOLLGATE_NODE_NAME: '',
    TOLLGATE_LOG_LEVEL: 'info',
    // One host, three services: each its own metrics port (the default 9464 would collide).
    TOLLGATE_METRICS_PORT: '0',
  };
  const scenario = createScenario({ seed: 7, days: 8, scale: 1, start: simStart });
  const logger = createLogger('warn');
  const kafka = await createKafkaTransport({ brokers: [BROKERS], client: 'platformatic', clientId: 'e2e-test', logger });
  const procs: Proc[] = [];
  try {
    await kafka.ensureTopics(allTopics(topics), 3);
    // Two poison messages: not Avro at all, and Avro of a schema nobody knows (a valid marker,
    // an unknown fingerprint). They must go to the raw DLQ with their reasons and block nothing.
    const producer = await kafka.producer('e2e-poison');
    const unknownSchema = Buffer.concat([Buffer.from([0xc3, 0x01]), Buffer.from('0123456789abcdef', 'hex'), Buffer.from([2, 0x61])]);
    await producer.send(topics.raw, [
      { key: scenario.nodes[0]!, value: Buffer.from('{"not":"avro"}') },
      { key: scenario.nodes[0]!, value: unknownSchema },
    ]);
    await producer.close();

    // Small inserts, so the sink is still busy when it is killed.
    const sinkEnv = { ...env, TOLLGATE_SINK_BATCH_ROWS: '2000' };
    let sink = start('sink', 'sink', sinkEnv);
    procs.push(sink);
    // The enricher serves /metrics, /healthz and /readyz (checked against what it processed, below).
    const metricsPort = await freePort();
    const enricher = start('enricher', 'enricher', { ...env, TOLLGATE_METRICS_PORT: String(metricsPort), TOLLGATE_METRICS_HOST: '127.0.0.1' });
    procs.push(enricher);
    const agent = start('agent', 'agent', env);
    procs.push(agent);

    // Kill the sink once, mid-stream, after it has committed some batches.
    await waitFor('the sink to commit a first batch', async () => sum(await kafka.committed(`${prefix}.tollgate-sink`, topics.enriched)) > 0, 120_000, procs);
    sink.child.kill('SIGKILL');
    await sink.exited;
    const committedAtKill = sum(await kafka.committed(`${prefix}.tollgate-sink`, topics.enriched));
    sink = start('sink (restarted)', 'sink', sinkEnv);
    procs.push(sink);

    assert.equal(await agent.exited, 0, `agent exit code\n${agent.log.join('')}`);
    await waitFor('the enricher to drain flows.raw', () => caughtUp(kafka, `${prefix}.tollgate-enricher`, topics.raw), 120_000, procs);
    await waitFor('the sink to drain flows.enriched', () => caughtUp(kafka, `${prefix}.tollgate-sink`, topics.enriched), 120_000, procs);
    const enrichedMessages = sum(await kafka.endOffsets(topics.enriched));
    assert.ok(committedAtKill > 0 && committedAtKill < enrichedMessages, `killed mid-stream: ${committedAtKill} of ${enrichedMessages} committed`);
    // The enricher's endpoint, scraped while it runs: alive, ready, and counters equal to what it
    // processed (the raw topic's messages, Kafka's count of its DLQ, and below the rows stored).
    const base = `http://127.0.0.1:${metricsPort}`;
    assert.equal((await fetch(`${base}/healthz`)).status, 200);
    assert.equal((await fetch(`${base}/readyz`)).status, 200);
    const metric = parseMetrics(await (await fetch(`${base}/metrics`)).text());
    const stage = { stage: 'enricher' };
    assert.equal(metric('tollgate_messages_in_total', stage), sum(await kafka.endOffsets(topics.raw)), 'enricher messages in = raw topic messages');
    assert.equal(metric('tollgate_dlq_messages_total', stage), sum(await kafka.endOffsets(dlqTopic(topics.raw))), 'enricher DLQ counter = raw DLQ messages');
    assert.ok((metric('tollgate_process_resident_memory_bytes') ?? 0) > 0, 'process metrics');
    const recordsOut = metric('tollgate_records_out_total', stage);

    for (const p of [sink, enricher]) p.child.kill('SIGTERM');
    assert.equal(await sink.exited, 0, `sink exit code\n${sink.log.join('')}`);
    assert.equal(await enricher.exited, 0, `enricher exit code\n${enricher.log.join('')}`);

    // The poison messages, and only they, are in the raw DLQ; nothing in the enriched DLQ.
    assert.equal(sum(await kafka.endOffsets(dlqTopic(topics.raw))), 2);
    assert.equal(sum(await kafka.endOffsets(dlqTopic(topics.enriched))), 0);
    const dlq: Array<Record<string, string>> = [];
    const reader = await kafka.consumer('e2e-dlq', { groupId: `${prefix}-dlq`, topics: [dlqTopic(topics.raw)] });
    await reader.run(async (msgs) => void dlq.push(...msgs.map((m) => m.headers)));
    await waitFor('the DLQ messages', async () => dlq.length === 2, 30_000, procs);
    await reader.close();
    assert.match(dlq[0]![DlqHeaders.reason]!, /not an Avro single-object message/);
    assert.match(dlq[1]![DlqHeaders.reason]!, /unknown writer schema fingerprint efcdab8967452301/);

    const store = await openStore({ url: '', user: 'default', password: '', database: 'tollgate', dataDir }, logger);
    try {
      // Every record the enricher counted out is one row in flows (no crash of the enricher here).
      const stored = await store.client.query({ query: 'SELECT toString(count()) AS n FROM tollgate.flows', format: 'JSONEachRow' });
      assert.equal(recordsOut, Number((await stored.json<{ n: string }>())[0]!.n), 'enricher records out = rows stored');

      // Bytes per workload per class: exactly the ground truth.
      const key = (r: { namespace: string; workload_kind: string; workload: string; class: string }) => `${r.namespace}/${r.workload_kind}/${r.workload}|${r.class}`;
      const truth = new Map(scenario.truth().map((r) => [key(r), { egress: r.egress_bytes, ingress: r.ingress_bytes }]));
      const got = new Map((await store.bytesByWorkloadClass()).map((r) => [key(r), { egress: r.egress_bytes, ingress: r.ingress_bytes }]));
      assert.deepEqual(Object.fromEntries([...got].sort()), Object.fromEntries([...truth].sort()));

      // Costs: bytes x seed price, plus NAT gateway processing (test/truth-costs.ts).
      const expected = expectedCosts(scenario);
      const costs = await store.costByWorkload({ top: 1000 });
      assert.equal(costs.length, expected.size);
      for (const c of costs) {
        const w = `${c.namespace}/${c.workload_kind}/${c.workload}`;
        assert.ok(Math.abs(c.total_usd - expected.get(w)!) < 1e-9, `${w}: ${c.total_usd} != ${expected.get(w)}`);
      }
      assert.ok(costs.some((c) => c.total_usd > 0.01), 'some workload costs money');

      // The planted anomaly, and nothing else.
      const anomalies = await store.anomalies();
      const seen = anomalies.map((a) => `${a.namespace}/${a.workload_kind}/${a.workload} ${a.rule} ${a.rule === 'MINING_PORT' ? a.port : a.country}`).sort();
      const want = scenario.expectedAnomalies.map((a) => `${a.namespace}/${a.workload_kind}/${a.workload} ${a.rule} ${a.rule === 'MINING_PORT' ? a.port : a.country}`).sort();
      assert.deepEqual(seen, want);
      assert.ok(anomalies.every((a) => a.first_window >= scenario.anomalyStart - 3_600_000));
    } finally {
      await store.close();
    }
  } finally {
    for (const p of procs) if (p.child.exitCode === null) p.child.kill('SIGKILL');
    await kafka.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
});
