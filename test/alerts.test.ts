// `tollgate alerts` on the real parts (the shared Kafka broker, chDB): each anomaly reaches
// egress.anomalies.v1 exactly once although the publisher is killed (SIGKILL) right after each
// step of a round and restarted, and although it is run again. The anomalies are hand-built here
// and the events expected are worked out in this file, not by the views under test.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createLogger } from '@tollgate/log';
import { createKafkaTransport } from '@tollgate/kafka';
import { openStore, type FlowRow } from '@tollgate/clickhouse';
import { flowRow, hourAgo, MiB } from '@tollgate/clickhouse/testing';
import { allTopics, topicNames, type Transport } from '@tollgate/pipeline';
import { Family, SchemaRegistry, type AnomalyEvent } from '@tollgate/schema';
import type { AlertStep } from '@tollgate/alerts';

const BIN = fileURLToPath(new URL('../bin/tollgate.mjs', import.meta.url));
const CRASH = fileURLToPath(new URL('./fixtures/alerts-crash.ts', import.meta.url));
const BROKERS = process.env.TOLLGATE_TEST_KAFKA ?? '127.0.0.1:9092';
const logger = createLogger('warn');
const codec = SchemaRegistry.load().codec<AnomalyEvent>(Family.anomaly);

function run(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; signal: NodeJS.Signals | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('exit', (code, signal) => resolve({ code, signal, out }));
  });
}

/** Every event on the topic, read by a fresh group. */
async function readAll(kafka: Transport, topic: string, group: string): Promise<AnomalyEvent[]> {
  const total = [...(await kafka.endOffsets(topic)).values()].reduce((a, b) => a + b, 0);
  const got: AnomalyEvent[] = [];
  const c = await kafka.consumer('alerts-test-reader', { groupId: group, topics: [topic] });
  await c.run(async (msgs) => void got.push(...msgs.map((m) => codec.decode(m.value))));
  const deadline = Date.now() + 30_000;
  while (got.length < total && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  await c.close();
  assert.equal(got.length, total, 'read the whole topic');
  return got;
}

const H = 3600;
const D = 86_400;
const T = hourAgo(3);
let off = 0;
const at = (p: Partial<FlowRow>) => flowRow({ local_namespace: 'shop', src_offset: off++, ...p });
// web and miner both have a week of GB (AS20712) behind them: known, and not learning any more.
const history: FlowRow[] = [2, 4, 6].flatMap((d) => [
  at({ local_workload: 'web', time: T - d * D, remote_country: 'GB', egress_bytes: 2 * MiB }),
  at({ local_workload: 'miner', time: T - d * D, remote_country: 'GB', egress_bytes: 2 * MiB }),
]);
const now1: FlowRow[] = [
  // web: 5 MiB to the US, AS15169 (both new) in hour T; 3 MiB to JP, AS2516 (both new) in hour T+1.
  at({ local_workload: 'web', time: T + 10, remote_country: 'US', remote_asn: 15169, remote_ip: '8.8.8.8', egress_bytes: 5 * MiB }),
  at({ local_workload: 'web', time: T + H + 10, remote_country: 'JP', remote_asn: 2516, remote_ip: '202.12.27.33', egress_bytes: 3 * MiB }),
  // miner: a stratum port in hour T (4000 bytes to NL on the known AS: only MINING_PORT).
  at({ local_workload: 'miner', time: T + 20, remote_country: 'NL', remote_ip: '81.2.69.160', remote_port: 3333, egress_bytes: 4000 }),
  // pay: 100 MiB cross-zone in hour T, the namespace's only traffic: (100 MiB + 2000 B) x $0.01/GiB
  // both ways = $0.000977, past its day budget of $0.0005 in hour T: one BUDGET event (no other rule
  // judges in-cluster traffic).
  at({ local_namespace: 'pay', local_workload: 'ledger', time: T + 30, class: 'cross_zone', remote_country: '', remote_ip: '10.0.2.7', remote_port: 5432, egress_bytes: 100 * MiB }),
];
const PAY_BUDGET = { cluster: '*', namespace: 'pay', label_key: '', label_value: '', period: 'day', usd: 0.0005 };
const PAY_SPENT = ((100 * MiB + 2000) * 0.01) / 2 ** 30;
const expected = [
  `NEW_COUNTRY web US ${T}`,
  `NEW_ASN web 15169 ${T}`,
  `NEW_COUNTRY web JP ${T + H}`,
  `NEW_ASN web 2516 ${T + H}`,
  `MINING_PORT miner 3333 ${T}`,
  `BUDGET pay day ${T}`,
];
const keyOf = (e: AnomalyEvent) =>
  e.rule === 'BUDGET'
    ? `BUDGET ${e.namespace} ${e.budget?.period.toLowerCase()} ${e.window_start / 1000}`
    : `${e.rule} ${e.workload} ${e.rule === 'MINING_PORT' ? e.destination.port : e.rule === 'NEW_ASN' ? e.destination.asn : e.destination.country} ${e.window_start / 1000}`;

const STEPS: AlertStep[] = ['caught-up', 'selected', 'produced', 'recorded'];

test('tollgate alerts: each anomaly exactly once across a SIGKILL right after each step, a re-run, and anomalies that appear later', { timeout: 240_000 }, async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'tollgate-alerts-'));
  const kafka = await createKafkaTransport({ brokers: [BROKERS], client: 'platformatic', clientId: 'alerts-test', logger });
  try {
    for (const step of STEPS) {
      const prefix = `alerts-${process.pid}-${Date.now()}-${step}`;
      const database = `alerts_${step.replace('-', '_')}`;
      const topics = topicNames(prefix);
      await kafka.ensureTopics(allTopics(topics), 3);
      const store = await openStore({ url: '', user: 'default', password: '', database, dataDir }, logger);
      await store.migrate();
      await store.insertFlows([...history, ...now1]);
      await store.client.insert({ table: `${database}.budgets`, format: 'JSONEachRow', values: [PAY_BUDGET], clickhouse_settings: { insert_deduplication_token: '' } });
      await store.close();

      const env: NodeJS.ProcessEnv = {
        ...process.env,
        TOLLGATE_KAFKA_BROKERS: BROKERS,
        TOLLGATE_TOPIC_PREFIX: prefix,
        TOLLGATE_DATA_DIR: dataDir,
        TOLLGATE_CLICKHOUSE_URL: '',
        TOLLGATE_CLICKHOUSE_DATABASE: database,
        TOLLGATE_METRICS_PORT: '0',
        TOLLGATE_LOG_LEVEL: 'warn',
      };
      const crashed = await run([CRASH, JSON.stringify({ brokers: BROKERS, prefix, dataDir, database, step })], env);
      assert.equal(crashed.signal, 'SIGKILL', `killed after ${step}\n${crashed.out}`);
      const before = await readAll(kafka, topics.anomalies, `${prefix}-r0`);
      assert.equal(before.length, step === 'caught-up' || step === 'selected' ? 0 : expected.length, `events on the topic after a crash at ${step}`);

      const restarted = await run([BIN, 'alerts', '--once'], env);
      assert.equal(restarted.code, 0, restarted.out);
      assert.match(restarted.out, new RegExp(`published ${before.length === 0 ? expected.length : 0} anomalies`));
      const again = await run([BIN, 'alerts', '--once'], env);
      assert.equal(again.code, 0, again.out);
      assert.match(again.out, /published 0 anomalies/);

      const events = await readAll(kafka, topics.anomalies, `${prefix}-r1`);
      assert.deepEqual(events.map(keyOf).sort(), [...expected].sort(), `after a crash at ${step}`);
      assert.equal(new Set(events.map((e) => e.id)).size, expected.length);
      const web = events.find((e) => e.rule === 'NEW_COUNTRY' && e.destination.country === 'US')!;
      assert.deepEqual([web.bytes, web.baseline_bytes, web.severity, web.destination.ip, web.window_end - web.window_start], [5 * MiB, 0, 'MEDIUM', '8.8.8.8', 3_600_000]);
      const pay = events.find((e) => e.rule === 'BUDGET')!;
      assert.deepEqual([pay.cluster, pay.workload, pay.budget?.label_key, pay.budget?.period, pay.budget?.budget_usd], ['test', '', '', 'DAY', 0.0005]);
      assert.ok(Math.abs(pay.budget!.spent_usd - PAY_SPENT) < 1e-12, `spent ${pay.budget!.spent_usd} != ${PAY_SPENT}`);
      assert.equal(events.filter((e) => e.rule !== 'BUDGET').every((e) => e.budget === null), true);

      if (step === 'produced') {
        // A later anomaly: BR (on the known AS) in the last complete hour: only it is published.
        const s = await openStore({ url: '', user: 'default', password: '', database, dataDir }, logger);
        await s.insertFlows([at({ local_workload: 'web', time: hourAgo(1) + 5, remote_country: 'BR', egress_bytes: 2 * MiB, src_offset: 10_000 })]);
        await s.close();
        const later = await run([BIN, 'alerts', '--once'], env);
        assert.equal(later.code, 0, later.out);
        assert.match(later.out, /published 1 anomalies/);
        const all = await readAll(kafka, topics.anomalies, `${prefix}-r2`);
        assert.deepEqual(all.map(keyOf).sort(), [...expected, `NEW_COUNTRY web BR ${hourAgo(1)}`].sort());
      }
    }
  } finally {
    await kafka.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
});
