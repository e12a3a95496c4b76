// The crash-point matrix of the sink's storage protocol (libs/clickhouse/src/ingest.ts), on the
// REAL broker (bash infra/kafka/kafka.sh ensure) and embedded chDB. Each case runs a sink that
// "crashes" right after one protocol step (the fault throws: nothing after it runs, as after a
// SIGKILL), restarts with another batch size (other handler calls, other chunk boundaries),
// sometimes crashes again or has the ledger merged (OPTIMIZE ... FINAL) in between, and ends
// with flows (rows within its TTL) and every rollup exactly equal to a truth computed here from
// the generated messages. Half of the traffic is 40 days old (older than flows' 30-day TTL).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore, type FlowsInsert, type IngestStep, type RawInsert, type Store } from '@tollgate/clickhouse';
import { withColumnValue, withField } from '@tollgate/clickhouse/testing';
import { checkBrokers, createKafkaTransport } from '@tollgate/kafka';
import { createLogger } from '@tollgate/log';
import { allTopics, caughtUp, topicNames, type Transport } from '@tollgate/pipeline';
import { Family, fromViews, SchemaRegistry, type EnrichedFlowBatch, type EnrichedFlowView } from '@tollgate/schema';
import { createSink, type Sink } from './sink.ts';

const BROKER = process.env.TOLLGATE_KAFKA_BROKERS || '127.0.0.1:9092';
const logger = createLogger('silent');
const registry = SchemaRegistry.load();
const codec = registry.codec<EnrichedFlowBatch>(Family.enriched);
const dataDir = mkdtempSync(join(tmpdir(), 'tollgate-crash-matrix-'));
const run = `${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
const stores: Store[] = [];
let transport: Transport;

before(async () => {
  try {
    await checkBrokers([BROKER], 3_000);
  } catch {
    throw new Error(`Kafka is not running on ${BROKER}: start it with \`bash infra/kafka/kafka.sh ensure\``);
  }
  transport = await createKafkaTransport({ brokers: [BROKER], client: 'platformatic', clientId: `crash-${run}`, logger });
});
after(async () => {
  await transport?.close();
  for (const s of stores) await s.close();
  rmSync(dataDir, { recursive: true, force: true });
});

const HOUR = Math.floor(Date.now() / 3_600_000) * 3_600_000 - 3_600_000;
const OLD = HOUR - 40 * 86_400_000;
const MESSAGES = 48;

function ep(ip: string, workload: string, country = '') {
  return { ip, port: 0, kind: workload ? ('POD' as const) : ('EXTERNAL' as const), cluster: 'c', namespace: workload ? 'ns' : '', workload_kind: workload ? 'Deployment' : '', workload, pod: workload ? `${workload}-1` : '', node: 'n1', zone: 'a', region: 'r', country, asn: country ? 64500 : 0, as_org: '', service: '', labels: {} };
}

/** Message i: 3 + (i % 7) internet flows of workload w<i % 4>; messages 30..41 are 40 days old. */
function message(i: number): EnrichedFlowBatch {
  const start = i >= 30 && i < 42 ? OLD : HOUR;
  const views: EnrichedFlowView[] = Array.from({ length: 3 + (i % 7) }, (_, j) => ({
    time: start + j * 1000,
    conntrack_id: i * 100 + j,
    protocol: 6,
    family: 'IPV4',
    role: 'INITIATOR',
    local: { ...ep('10.0.0.1', `w${i % 4}`), port: 40000 + j },
    remote: { ...ep('81.2.69.142', '', j % 2 ? 'GB' : 'SE'), port: 443 },
    class: 'INTERNET',
    cloud: 'aws',
    cloud_service: '',
    cloud_service_region: '',
    service: '',
    nat_gateway: false,
    egress_bytes: 1_000_003 * (i + 1) + j,
    ingress_bytes: 7 * i + j,
    egress_packets: 1,
    ingress_packets: 1,
  }));
  return fromViews({ cluster: 'c', node: 'n1', window_start: start, window_end: start + 60_000, source: { agent_id: 'a', seq: i, topic: 'raw', partition: 0, offset: i } }, views);
}

interface Truth {
  /** workload -> [egress, ingress, flows], all rows. */
  all: Map<string, [number, number, number]>;
  /** workload -> [egress, flows, first hour, last hour (Unix s)], all rows (every flow is an internet INITIATOR flow to a country and ASN). */
  keys: Map<string, [number, number, number, number]>;
  /** Rows not older than flows' TTL. */
  recentRows: number;
  recentEgress: number;
}

/** The truth, from the generated messages (the DLQ'd ones left out). */
function truth(batches: EnrichedFlowBatch[], skip: Set<number>): Truth {
  const all = new Map<string, [number, number, number]>();
  const keys = new Map<string, [number, number, number, number]>();
  let recentRows = 0;
  let recentEgress = 0;
  batches.forEach((b, i) => {
    if (skip.has(i)) return;
    for (const f of b.flows) {
      const w = b.endpoints[f.local]!.workload;
      const t = all.get(w) ?? [0, 0, 0];
      all.set(w, [t[0] + f.egress_bytes, t[1] + f.ingress_bytes, t[2] + 1]);
      const hour = Math.floor(b.window_start / 3_600_000) * 3600;
      const k = keys.get(w) ?? [0, 0, hour, hour];
      keys.set(w, [k[0] + f.egress_bytes, k[1] + 1, Math.min(k[2], hour), Math.max(k[3], hour)]);
      if (b.window_start === HOUR) {
        recentRows++;
        recentEgress += f.egress_bytes;
      }
    }
  });
  return { all, keys, recentRows, recentEgress };
}

async function q<T>(s: Store, sql: string): Promise<T[]> {
  return (await s.client.query({ query: sql, format: 'JSONEachRow' })).json<T>();
}

async function assertExact(s: Store, t: Truth, label: string): Promise<void> {
  const db = s.database;
  const byWorkload = async (table: string) =>
    new Map(
      (await q<{ w: string; e: string; i: string; n: string }>(s, `SELECT workload AS w, toString(sum(egress_bytes)) AS e, toString(sum(ingress_bytes)) AS i, toString(sum(flows)) AS n FROM ${db}.${table} GROUP BY w ORDER BY w`)).map(
        (r) => [r.w, [Number(r.e), Number(r.i), Number(r.n)]],
      ),
    );
  const want = new Map([...t.all].sort());
  assert.deepEqual(await byWorkload('workload_hourly'), want, `${label}: workload_hourly`);
  assert.deepEqual(await byWorkload('destinations_hourly'), want, `${label}: destinations_hourly`);
  assert.deepEqual(await byWorkload('workload_daily'), want, `${label}: workload_daily`);
  // The known-destinations rollups (0056): per key kind (the workload's traffic, its countries, its ASNs), bytes, flows, first and last hour.
  const wantKeys = new Map([...t.keys].sort());
  for (const kind of ['traffic', 'country', 'asn']) {
    const got = await q<{ w: string; e: string; n: string; f: number; l: number }>(
      s,
      `SELECT workload AS w, toString(sum(egress_bytes)) AS e, toString(sum(flows)) AS n, toUnixTimestamp(min(first_hour)) AS f, toUnixTimestamp(max(last_hour)) AS l
       FROM ${db}.destination_keys_daily WHERE key_kind = '${kind}' GROUP BY w ORDER BY w`,
    );
    assert.deepEqual(new Map(got.map((r) => [r.w, [Number(r.e), Number(r.n), Number(r.f), Number(r.l)]])), wantKeys, `${label}: destination_keys_daily ${kind}`);
  }
  const egress = await q<{ w: string; e: string; n: string; f: number; l: number }>(
    s,
    `SELECT workload AS w, toString(sum(egress_bytes)) AS e, toString(sum(flows)) AS n, toUnixTimestamp(min(hour)) AS f, toUnixTimestamp(max(hour)) AS l
     FROM ${db}.workload_egress_hourly GROUP BY w ORDER BY w`,
  );
  assert.deepEqual(new Map(egress.map((r) => [r.w, [Number(r.e), Number(r.n), Number(r.f), Number(r.l)]])), wantKeys, `${label}: workload_egress_hourly`);
  const [recent] = await q<{ n: string; e: string }>(s, `SELECT toString(count()) AS n, toString(sum(egress_bytes)) AS e FROM ${db}.flows WHERE time >= ${Math.floor(HOUR / 1000) - 3600}`);
  assert.deepEqual([Number(recent!.n), Number(recent!.e)], [t.recentRows, t.recentEgress], `${label}: flows within its TTL`);
  // Old rows may or may not be in flows yet (TTL), but never twice.
  const [dups] = await q<{ n: string }>(s, `SELECT toString(count()) AS n FROM (SELECT src_partition, src_offset, conntrack_id, count() AS c FROM ${db}.flows GROUP BY ALL HAVING c > 1)`);
  assert.equal(Number(dups!.n), 0, `${label}: a flow twice in flows`);
}

class Crash extends Error {}

interface Phase {
  batchRows: number;
  /** Crash right after the nth occurrence of a step ('commit': the consumer committed call n). */
  crash?: { step: IngestStep | 'commit'; nth: number };
}

interface Case {
  name: string;
  phases: Phase[];
  optimizeBetween?: boolean;
  /** Messages whose rows ClickHouse rejects (the fallback path). */
  rejected?: number[];
}

async function runCase(c: Case, index: number): Promise<void> {
  const prefix = `crash-${run}-${index}`;
  const topics = topicNames(prefix);
  await transport.ensureTopics(allTopics(topics), 2);
  const batches = Array.from({ length: MESSAGES }, (_, i) => message(i));
  const producer = await transport.producer(`crash-${index}`);
  // Six keys over two partitions.
  await producer.send(topics.enriched, batches.map((b, i) => ({ key: `node-${i % 6}`, value: codec.encode(b) })));
  await producer.close();
  const s = await openStore({ url: '', user: 'default', password: '', database: `m${index}`, dataDir }, logger);
  stores.push(s);
  await s.migrate();
  const rejected = new Set(c.rejected ?? []);
  // A rejected message's rows reach the engine with a bad address (their egress bytes identify
  // the message): ClickHouse itself refuses them, in flows and in rollup_input alike.
  const isRejected = (row: Readonly<Record<string, unknown>>) => rejected.has(Math.floor(Number(row.egress_bytes) / 1_000_003) - 1);
  const rawInsert: RawInsert = (table, columns, body, settings, format) => s.rawInsert(table, columns, withField(body, columns, isRejected, 'remote_ip', 'bad-ip'), settings, format);
  const flowsInsert: FlowsInsert = (table, blocks, settings) => s.flowsInsert(table, withColumnValue(blocks, isRejected, 'remote_ip', 'bad-ip'), settings);
  const engine: Store = { ...s, rawInsert, flowsInsert };
  const group = `${prefix}.sink`;

  for (const [p, phase] of c.phases.entries()) {
    const seen = new Map<string, number>();
    const crashAt = phase.crash;
    const sink: Sink = createSink({
      transport,
      store: engine,
      topics,
      settings: { batchRows: phase.batchRows, flushMs: 50 },
      groupId: group,
      owner: `phase-${p}`,
      logger,
      registry,
      retry: { attempts: 2, baseMs: 5 },
      faults: {
        ingest: (step) => {
          const n = (seen.get(step) ?? 0) + 1;
          seen.set(step, n);
          if (crashAt && crashAt.step === step && crashAt.nth === n) throw new Crash(`crash after ${step} #${n}`);
        },
        batch: (call) => {
          if (crashAt?.step === 'commit' && call === crashAt.nth + 1) throw new Crash(`crash after commit #${crashAt.nth}`);
        },
      },
    });
    await sink.start();
    if (crashAt) {
      await assert.rejects(sink.done, Crash, `${c.name}: phase ${p} should crash`);
      await sink.stop();
    } else {
      const deadline = Date.now() + 60_000;
      while (!(await caughtUp(transport, group, topics.enriched))) {
        if (Date.now() > deadline) throw new Error(`${c.name}: phase ${p} did not catch up`);
        await Promise.race([new Promise((r) => setTimeout(r, 50)), sink.done]);
      }
      await sink.stop();
      await sink.done;
    }
    if (c.optimizeBetween) {
      await s.client.command({ query: `OPTIMIZE TABLE ${s.database}.ingest_ledger FINAL` });
      await s.client.command({ query: `OPTIMIZE TABLE ${s.database}.flows FINAL` });
    }
  }
  await assertExact(s, truth(batches, rejected), c.name);
}

const cases: Case[] = [
  { name: 'crash after the ledger intent, restart with smaller batches', phases: [{ batchRows: 400, crash: { step: 'ledger', nth: 3 } }, { batchRows: 60 }] },
  { name: 'crash after the flows insert, restart with smaller batches', phases: [{ batchRows: 400, crash: { step: 'flows', nth: 2 } }, { batchRows: 30 }] },
  { name: 'crash after the rollup feed, restart with bigger batches', phases: [{ batchRows: 60, crash: { step: 'rollup', nth: 4 } }, { batchRows: 1000 }] },
  {
    name: 'crash after the rollup feed, flows merged (OPTIMIZE FINAL) before the restart',
    optimizeBetween: true,
    phases: [{ batchRows: 60, crash: { step: 'rollup', nth: 3 } }, { batchRows: 500 }],
  },
  { name: 'crash after the done row, restart with other batches', phases: [{ batchRows: 200, crash: { step: 'done', nth: 2 } }, { batchRows: 45 }] },
  { name: 'crash after the offset commit, restart with other batches', phases: [{ batchRows: 100, crash: { step: 'commit', nth: 2 } }, { batchRows: 700 }] },
  {
    name: 'two restarts in a row, each crashing, OPTIMIZE FINAL between them',
    optimizeBetween: true,
    phases: [{ batchRows: 400, crash: { step: 'flows', nth: 1 } }, { batchRows: 50, crash: { step: 'ledger', nth: 2 } }, { batchRows: 90 }],
  },
  {
    name: 'a ClickHouse rejection, crash in the middle of the message-by-message fallback, restart',
    rejected: [4, 10],
    phases: [{ batchRows: 1000, crash: { step: 'flows', nth: 2 } }, { batchRows: 70 }],
  },
];

cases.forEach((c, i) => {
  test(`crash matrix: ${c.name}: flows and every rollup exact`, { timeout: 180_000 }, () => runCase(c, i));
});
