// What the end-to-end tests share (test/e2e.test.ts with the simulated inventory, test/e2e-kube.test.ts
// with a real kube-apiserver): the stages' environment for a simulated cluster, the drain of
// both topics, the enricher's metrics endpoint, and the comparison of what ClickHouse holds
// with the scenario's ground truth (computed from the simulated connections, not by the pipeline).
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { openStore, type Store } from '@tollgate/clickhouse';
import { byAnomalyId, installReferenceAnomalyViews, referenceAnomalyRows } from '@tollgate/clickhouse/testing';
import type { Logger } from '@tollgate/log';
import type { Scenario } from '@tollgate/sim';
import { caughtUp, type TopicNames, type Transport } from '@tollgate/pipeline';
import { expectedCosts } from '../truth-costs.ts';
import { waitFor as waitUntil, type Proc } from './processes.ts';

export const BROKERS = process.env.TOLLGATE_TEST_KAFKA ?? '127.0.0.1:9092';

/** The three stages' settings for the scenario (seed, days and start pinned, one host). */
export function stageEnv(o: { prefix: string; dataDir: string; scenario: Pick<Scenario, 'seed' | 'days' | 'start'> }): NodeJS.ProcessEnv {
  return {
    ...process.env,
    TOLLGATE_KAFKA_BROKERS: BROKERS,
    TOLLGATE_TOPIC_PREFIX: o.prefix,
    TOLLGATE_DATA_DIR: o.dataDir,
    TOLLGATE_CLICKHOUSE_URL: '',
    TOLLGATE_SIM_SEED: String(o.scenario.seed),
    TOLLGATE_SIM_DAYS: String(o.scenario.days),
    TOLLGATE_SIM_START: new Date(o.scenario.start).toISOString(),
    TOLLGATE_AGENT_SOURCE: 'sim',
    TOLLGATE_K8S_SOURCE: 'sim',
    TOLLGATE_NODE_NAME: '',
    TOLLGATE_LOG_LEVEL: 'info',
    // One host, three services: each its own metrics port (the default 9464 would collide).
    TOLLGATE_METRICS_PORT: '0',
  };
}

export const sum = (m: Map<number, number>) => [...m.values()].reduce((a, b) => a + b, 0);

/**
 * The committed messages of a topic, read (read_committed) by a group of its own: with enricher
 * transactions its end offsets also count the transaction markers.
 */
export async function countMessages(kafka: Transport, topic: string, groupId: string): Promise<number> {
  if (sum(await kafka.endOffsets(topic)) === 0) return 0;
  let n = 0;
  const c = await kafka.consumer(groupId, { groupId, topics: [topic], maxWaitMs: 100, transactionalInput: true });
  await c.run(async (batch) => void (n += batch.length));
  try {
    const deadline = Date.now() + 30_000;
    while (!(await caughtUp(kafka, groupId, topic))) {
      if (Date.now() > deadline) throw new Error(`reading ${topic} did not catch up`);
      await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    await c.close();
  }
  return n;
}

export const waitFor = (what: string, cond: () => Promise<boolean>, timeoutMs: number, procs: Proc[]) => waitUntil(what, cond, timeoutMs, () => procs);

/** Until the enricher and the sink have consumed everything in flows.raw and flows.enriched. */
export async function drained(kafka: Transport, prefix: string, topics: TopicNames, procs: Proc[]): Promise<void> {
  await waitFor('the enricher to drain flows.raw', () => caughtUp(kafka, `${prefix}.tollgate-enricher`, topics.raw), 120_000, procs);
  await waitFor('the sink to drain flows.enriched', () => caughtUp(kafka, `${prefix}.tollgate-sink`, topics.enriched), 120_000, procs);
}

/** Prometheus text -> a sum over the series of `name` that carry every label given. */
export function parseMetrics(text: string): (name: string, labels?: Record<string, string>) => number | undefined {
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

/** The enricher's /metrics, scraped. */
export async function scrape(port: number): Promise<ReturnType<typeof parseMetrics>> {
  return parseMetrics(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text());
}

export interface TruthFigures {
  /** Rows in flows (each one record the enricher counted out). */
  rows: number;
  /** Workload x class groups compared, and their bytes (egress + ingress). */
  groups: number;
  bytes: number;
  /** Workloads whose cost was compared, and their total. */
  workloads: number;
  usd: number;
  anomalies: number;
}

const key = (r: { namespace: string; workload_kind: string; workload: string; class: string }) => `${r.namespace}/${r.workload_kind}/${r.workload}|${r.class}`;
const byKey = (rows: Array<{ namespace: string; workload_kind: string; workload: string; class: string; egress_bytes: number; ingress_bytes: number }>) =>
  Object.fromEntries(rows.map((r) => [key(r), { egress: r.egress_bytes, ingress: r.ingress_bytes }] as const).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
const workloadOf = (r: { namespace: string; workload_kind: string; workload: string }) => `${r.namespace}/${r.workload_kind}/${r.workload}`;
const anomalyKey = (a: { namespace: string; workload_kind: string; workload: string; rule: string; port: number; country: string }) => `${workloadOf(a)} ${a.rule} ${a.rule === 'MINING_PORT' ? a.port : a.country}`;

/**
 * What the store holds equals the scenario's ground truth: one flows row per record out; bytes
 * per workload and class in the flows themselves and in the hourly rollup; cost per workload at
 * the seed prices; the planted anomaly and nothing else.
 */
export async function assertGroundTruth(store: Store, scenario: Scenario, recordsOut: number | undefined): Promise<TruthFigures> {
  const stored = await store.client.query({ query: 'SELECT toString(count()) AS n FROM tollgate.flows', format: 'JSONEachRow' });
  const rows = Number((await stored.json<{ n: string }>())[0]!.n);
  assert.equal(recordsOut, rows, 'enricher records out = rows stored');

  // Bytes per workload per class: exactly the ground truth, in the flows and in the rollup.
  const truth = byKey(scenario.truth());
  const raw = await store.client.query({
    query: `SELECT local_namespace AS namespace, local_workload_kind AS workload_kind, local_workload AS workload, class,
              toString(sum(egress_bytes)) AS eb, toString(sum(ingress_bytes)) AS ib
            FROM tollgate.flows GROUP BY namespace, workload_kind, workload, class`,
    format: 'JSONEachRow',
  });
  const flows = (await raw.json<{ namespace: string; workload_kind: string; workload: string; class: string; eb: string; ib: string }>()).map((r) => ({ ...r, egress_bytes: Number(r.eb), ingress_bytes: Number(r.ib) }));
  assert.deepEqual(byKey(flows), truth, 'flows: bytes per workload and class');
  assert.deepEqual(byKey(await store.bytesByWorkloadClass()), truth, 'workload_hourly: bytes per workload and class');

  // Costs: bytes x seed price, plus NAT gateway processing (test/truth-costs.ts).
  const expected = expectedCosts(scenario);
  const costs = await store.costByWorkload({ top: 1000 });
  assert.equal(costs.length, expected.size);
  for (const c of costs) {
    const w = workloadOf(c);
    assert.ok(Math.abs(c.total_usd - expected.get(w)!) < 1e-9, `${w}: ${c.total_usd} != ${expected.get(w)}`);
  }
  assert.ok(costs.some((c) => c.total_usd > 0.01), 'some workload costs money');

  // The planted anomaly, and nothing else.
  const anomalies = await store.anomalies();
  assert.deepEqual(anomalies.map(anomalyKey).sort(), scenario.expectedAnomalies.map(anomalyKey).sort());
  assert.ok(anomalies.every((a) => a.first_window >= scenario.anomalyStart - 3_600_000));
  // The anomaly rows, field for field, are those of migrations 0020/0022's views (over every hourly row), installed beside them.
  await installReferenceAnomalyViews(store.client, store.database);
  const anomalyRows = byAnomalyId(await store.anomalyRows());
  assert.ok(anomalyRows.length >= anomalies.length);
  assert.deepEqual(anomalyRows, byAnomalyId(await referenceAnomalyRows(store.client, store.database)), 'anomaly rows: those of the reference views (0020/0022)');

  const groups = Object.values(truth);
  return {
    rows,
    groups: groups.length,
    bytes: groups.reduce((s, g) => s + g.egress + g.ingress, 0),
    workloads: costs.length,
    usd: costs.reduce((s, c) => s + c.total_usd, 0),
    anomalies: anomalies.length,
  };
}

/** Opens the embedded store the sink wrote in dataDir (after the sink stopped) and asserts the ground truth. */
export async function assertStoredTruth(dataDir: string, scenario: Scenario, recordsOut: number | undefined, logger: Logger): Promise<TruthFigures> {
  const store = await openStore({ url: '', user: 'default', password: '', database: 'tollgate', dataDir }, logger);
  try {
    return await assertGroundTruth(store, scenario, recordsOut);
  } finally {
    await store.close();
  }
}

/** After a run: kills what still runs, closes the test's Kafka client, removes the data dir. */
export async function endRun(procs: Proc[], kafka: Transport, dataDir: string): Promise<void> {
  for (const p of procs) if (p.child.exitCode === null) p.child.kill('SIGKILL');
  await kafka.close();
  rmSync(dataDir, { recursive: true, force: true });
}
