// MemoryTransport + embedded chDB (one data directory for this file; one database per test).
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createIngest, openStore, type FlowsInsert, type RawInsert, type Store } from '@tollgate/clickhouse';
import { withColumnValue, withField } from '@tollgate/clickhouse/testing';
import { createLogger } from '@tollgate/log';
import { allTopics, caughtUp, DlqHeaders, MemoryTransport, topicNames, type InMessage } from '@tollgate/pipeline';
import { Family, fromViews, SchemaRegistry, type EnrichedFlowBatch, type EnrichedFlowView } from '@tollgate/schema';
import { createSink } from './sink.ts';

const logger = createLogger('silent');
const registry = SchemaRegistry.load();
const codec = registry.codec<EnrichedFlowBatch>(Family.enriched);
const dataDir = mkdtempSync(join(tmpdir(), 'tollgate-ch-sink-'));
const stores: Store[] = [];
after(async () => {
  for (const s of stores) await s.close();
  rmSync(dataDir, { recursive: true, force: true });
});

async function store(database: string): Promise<Store> {
  const s = await openStore({ url: '', user: 'default', password: '', database, dataDir }, logger);
  stores.push(s);
  await s.migrate();
  return s;
}

const HOUR = Math.floor(Date.now() / 3_600_000) * 3_600_000 - 3_600_000;

function endpoint(ip: string, workload: string) {
  return { ip, port: 0, kind: 'POD' as const, cluster: 'c', namespace: 'ns', workload_kind: 'Deployment', workload, pod: `${workload}-1`, node: 'n1', zone: 'a', region: 'r', country: '', asn: 0, as_org: '', service: '', labels: {} };
}

/** Message i: `flows` flows of workload w<i % 3>, flow j sends i * 1000 + j bytes and receives 1. */
function batch(i: number, flows: number): EnrichedFlowBatch {
  const f = (j: number): EnrichedFlowView => ({
    time: HOUR + i * 1000,
    conntrack_id: i * 1000 + j,
    protocol: 6,
    family: 'IPV4',
    role: 'INITIATOR',
    local: { ...endpoint('10.0.0.1', `w${i % 3}`), port: 40000 + j },
    remote: { ...endpoint('10.0.1.1', 'db'), port: 5432 },
    class: 'CROSS_ZONE',
    cloud: 'aws',
    cloud_service: '',
    cloud_service_region: '',
    service: '',
    nat_gateway: false,
    egress_bytes: i * 1000 + j,
    ingress_bytes: 1,
    egress_packets: 1,
    ingress_packets: 1,
  });
  return fromViews(
    { cluster: 'c', node: 'n1', window_start: HOUR, window_end: HOUR + 100_000, source: { agent_id: 'a', seq: i, topic: 'flows.raw.v1', partition: 0, offset: i } },
    Array.from({ length: flows }, (_, j) => f(j)),
  );
}

/** Expected egress per workload for messages [0, n) of `flows` flows each. */
function expected(n: number, flows: number, skip: Set<number> = new Set()) {
  const out = new Map<string, { egress: number; ingress: number }>();
  for (let i = 0; i < n; i++) {
    if (skip.has(i)) continue;
    const w = out.get(`w${i % 3}`) ?? { egress: 0, ingress: 0 };
    for (let j = 0; j < flows; j++) w.egress += i * 1000 + j;
    w.ingress += flows;
    out.set(`w${i % 3}`, w);
  }
  return [...out.entries()].sort().map(([workload, v]) => ({ namespace: 'ns', workload_kind: 'Deployment', workload, class: 'cross_zone', egress_bytes: v.egress, ingress_bytes: v.ingress }));
}

async function setup(prefix: string) {
  const transport = new MemoryTransport();
  const topics = topicNames(prefix);
  await transport.ensureTopics(allTopics(topics), 2);
  const producer = await transport.producer('test');
  return { transport, topics, producer };
}

async function waitCaughtUp(transport: MemoryTransport, group: string, topic: string): Promise<void> {
  while (!(await caughtUp(transport, group, topic))) await new Promise((r) => setTimeout(r, 10));
}

async function flowCount(s: Store): Promise<number> {
  const rs = await s.client.query({ query: `SELECT toString(count()) AS n FROM ${s.database}.flows`, format: 'JSONEachRow' });
  return Number((await rs.json<{ n: string }>())[0]!.n);
}

test('stores exactly the rows of every message, several messages per insert', async () => {
  const s = await store('exact');
  const { transport, topics, producer } = await setup('exact');
  await producer.send(topics.enriched, Array.from({ length: 30 }, (_, i) => ({ key: `n${i % 4}`, value: codec.encode(batch(i, 7)) })));
  const sink = createSink({ transport, store: s, topics, settings: { batchRows: 1000, flushMs: 20 }, logger, registry });
  await sink.start();
  await waitCaughtUp(transport, 'tollgate-sink', topics.enriched);
  await sink.stop();
  await sink.stop();
  assert.deepEqual(await s.bytesByWorkloadClass(), expected(30, 7));
  assert.equal(await flowCount(s), 210);
  const st = sink.stats();
  assert.deepEqual({ messages: st.messages, rows: st.rows, dlq: st.dlq }, { messages: 30, rows: 210, dlq: 0 });
  assert.ok(st.inserts < 30, `several messages per insert (${st.inserts} inserts)`);
  // The ledger says every partition is stored up to its end.
  const resume = await createIngest(s, { maxChunkRows: 1000, owner: 'reader', logger }).resume(topics.enriched, [0, 1]);
  assert.deepEqual(resume, await transport.endOffsets(topics.enriched));
});

test('a poison message goes to the DLQ with its reason and does not block the partition', async () => {
  const s = await store('poison');
  const { transport, topics, producer } = await setup('poison');
  const good = (i: number) => ({ key: 'k', value: codec.encode(batch(i, 3)) });
  await producer.send(topics.enriched, [good(0), good(1), { key: 'k', value: Buffer.from('not avro at all') }, good(3), good(4)]);
  const sink = createSink({ transport, store: s, topics, settings: { batchRows: 1000, flushMs: 20 }, logger, registry });
  await sink.start();
  await waitCaughtUp(transport, 'tollgate-sink', topics.enriched);
  await sink.stop();
  assert.deepEqual(await s.bytesByWorkloadClass(), expected(5, 3, new Set([2])));

  const dlq: InMessage[] = [];
  const c = await transport.consumer('t', { groupId: 'dlq-reader', topics: [`${topics.enriched}.dlq`] });
  await c.run(async (b) => void dlq.push(...b));
  while (dlq.length < 1) await new Promise((r) => setTimeout(r, 10));
  await c.close();
  assert.equal(dlq.length, 1);
  assert.equal(dlq[0]!.value.toString(), 'not avro at all');
  assert.match(dlq[0]!.headers[DlqHeaders.reason]!, /not an Avro single-object message/);
  assert.equal(dlq[0]!.headers[DlqHeaders.stage], 'sink');
  assert.equal(dlq[0]!.headers[DlqHeaders.offset], '2');
  assert.deepEqual({ ...sink.stats(), inserts: 0, retries: 0 }, { messages: 5, rows: 12, inserts: 0, dlq: 1, retries: 0, replayed: 0, resends: 0 });
});

test('a batch an agent sent again (same agent_id and seq, another offset) is stored once, also across a restart', async () => {
  const s = await store('resend');
  const { transport, topics, producer } = await setup('resend');
  const msg = (i: number) => ({ key: 'k', value: codec.encode(batch(i, 3)) });
  // The agent crashed after sending seq 2 and sent it again; then once more after a second crash.
  await producer.send(topics.enriched, [msg(0), msg(1), msg(2), msg(2), msg(3)]);
  const first = createSink({ transport, store: s, topics, settings: { batchRows: 1000, flushMs: 20 }, logger, registry });
  await first.start();
  await waitCaughtUp(transport, 'tollgate-sink', topics.enriched);
  await first.stop();
  assert.equal(first.stats().resends, 1);
  await producer.send(topics.enriched, [msg(3), msg(4)]);
  // A new sink rebuilds the agents' positions from the stored rows.
  const second = createSink({ transport, store: s, topics, settings: { batchRows: 4, flushMs: 20 }, logger, registry });
  await second.start();
  await waitCaughtUp(transport, 'tollgate-sink', topics.enriched);
  await second.stop();
  assert.equal(second.stats().resends, 1);
  assert.deepEqual(await s.bytesByWorkloadClass(), expected(5, 3));
});

test('copies out of seq order (two enrichers interleaving their sends across a rebalance): each seq stored once, across a restart too', async () => {
  const s = await store('reorder');
  const { transport, topics, producer } = await setup('reorder');
  const msg = (i: number) => ({ key: 'k', value: codec.encode(batch(i, 3)) });
  // The old owner of the raw partition produced seqs 4 and 5 while the new one, from the committed
  // offset, produced 2..5: the partition reads 0 1 4 5 2 3 4 5. Seqs 2 and 3 were never stored.
  await producer.send(topics.enriched, [msg(0), msg(1), msg(4), msg(5)]);
  const first = createSink({ transport, store: s, topics, settings: { batchRows: 1000, flushMs: 20 }, logger, registry });
  await first.start();
  await waitCaughtUp(transport, 'tollgate-sink', topics.enriched);
  await first.stop();
  await producer.send(topics.enriched, [msg(2), msg(3), msg(4), msg(5)]);
  // Another sink, its positions rebuilt from the stored rows (seqs 0 1 4 5), other batch sizes.
  const second = createSink({ transport, store: s, topics, settings: { batchRows: 4, flushMs: 20 }, logger, registry });
  await second.start();
  await waitCaughtUp(transport, 'tollgate-sink', topics.enriched);
  await producer.send(topics.enriched, [msg(3), msg(6), msg(2)]);
  await waitCaughtUp(transport, 'tollgate-sink', topics.enriched);
  await second.stop();
  assert.equal(second.stats().resends, 4, 'the copies of 4, 5, 3 and 2');
  assert.deepEqual(await s.bytesByWorkloadClass(), expected(7, 3));
});

/** A store whose engine sees `column` set to `value` in the rows `pick` selects (flows and rollup_input): a real ClickHouse rejection of those rows. */
function corrupting(s: Store, pick: (row: Readonly<Record<string, unknown>>) => boolean, column: 'remote_ip', value: string): Store {
  const rawInsert: RawInsert = (table, columns, body, settings, format) => s.rawInsert(table, columns, withField(body, columns, pick, column, value), settings, format);
  const flowsInsert: FlowsInsert = (table, blocks, settings) => s.flowsInsert(table, withColumnValue(blocks, pick, column, value), settings);
  return { ...s, rawInsert, flowsInsert };
}

async function readDlq(transport: MemoryTransport, topic: string, n: number): Promise<InMessage[]> {
  const dlq: InMessage[] = [];
  const c = await transport.consumer('t', { groupId: `dlq-reader-${topic}`, topics: [`${topic}.dlq`] });
  await c.run(async (b) => void dlq.push(...b));
  while (dlq.length < n) await new Promise((r) => setTimeout(r, 10));
  await c.close();
  return dlq;
}

test('invalid records (bad address, out-of-range index, negative counter) go to the DLQ; the rest of their message is stored', async () => {
  const s = await store('invalid');
  const { transport, topics, producer } = await setup('invalid');
  const bad = batch(1, 3);
  bad.flows[1]!.remote_ip = 'not-an-ip';
  const worse = batch(2, 3);
  worse.flows[0]!.remote = 99;
  worse.flows[2]!.egress_bytes = -5;
  await producer.send(topics.enriched, [batch(0, 3), bad, worse, batch(3, 3)].map((b) => ({ key: 'k', value: codec.encode(b) })));
  const sink = createSink({ transport, store: s, topics, settings: { batchRows: 1000, flushMs: 20 }, logger, registry });
  await sink.start();
  await waitCaughtUp(transport, 'tollgate-sink', topics.enriched);
  await sink.stop();
  // Truth: every flow of messages 0 and 3, flows 0 and 2 of message 1, flow 1 of message 2.
  const truth = new Map<string, number>([['w0', 0 + 1 + 2 + (3000 + 3001 + 3002)], ['w1', 1000 + 1002], ['w2', 2001]]);
  const got = await s.bytesByWorkloadClass();
  assert.deepEqual(new Map(got.map((r) => [r.workload, r.egress_bytes])), truth);
  assert.equal(await flowCount(s), 9);
  const dlq = await readDlq(transport, topics.enriched, 2);
  assert.deepEqual(dlq.map((m) => m.headers[DlqHeaders.offset]), ['1', '2']);
  assert.match(dlq[0]!.headers[DlqHeaders.reason]!, /^invalid: 1 of 3 flows invalid .*flow 1: remote_ip "not-an-ip" is not an address/);
  assert.match(dlq[1]!.headers[DlqHeaders.reason]!, /flow 0: remote endpoint index 99 outside the message's 2; flow 2: egress_bytes -5 is not a counter/);
});

test('rows ClickHouse rejects send their message to the DLQ; the rest of the chunk is stored, and nothing a restart misreads is left', async () => {
  const s = await store('rejected');
  const { transport, topics, producer } = await setup('rejected');
  await producer.send(topics.enriched, [0, 1, 2].map((i) => ({ key: 'k', value: codec.encode(batch(i, 3)) })));
  // Message 1's rows (workload w1) reach the engine with a bad address: ClickHouse itself rejects them.
  const rejecting = corrupting(s, (r) => r.local_workload === 'w1', 'remote_ip', 'not-an-ip');
  const sink = createSink({ transport, store: rejecting, topics, settings: { batchRows: 1000, flushMs: 20 }, logger, registry });
  await sink.start();
  await waitCaughtUp(transport, 'tollgate-sink', topics.enriched);
  await sink.stop();
  assert.deepEqual(await s.bytesByWorkloadClass(), expected(3, 3, new Set([1])));
  const dlq = await readDlq(transport, topics.enriched, 1);
  assert.deepEqual(dlq.map((m) => m.headers[DlqHeaders.offset]), ['1']);
  // (The engine names the column and the type; a text insert quotes the value too.)
  assert.match(dlq[0]!.headers[DlqHeaders.reason]!, /^clickhouse rejected the rows: .*(not-an-ip|IPv6 value.*remote_ip)/);
  assert.equal(sink.stats().dlq, 1);
  // A restart (after OPTIMIZE of the ledger) resumes after the chunk and changes nothing.
  await s.client.command({ query: 'OPTIMIZE TABLE rejected.ingest_ledger FINAL' });
  const resume = await createIngest(s, { maxChunkRows: 1000, owner: 'reader', logger }).resume(topics.enriched, [0, 1]);
  assert.deepEqual(resume, new Map([[0, 3]]));
  assert.deepEqual(await s.bytesByWorkloadClass(), expected(3, 3, new Set([1])));
});

test('a retriable insert error is retried with the same token and stored once', async () => {
  const s = await store('retry');
  const { transport, topics, producer } = await setup('retry');
  await producer.send(topics.enriched, Array.from({ length: 6 }, (_, i) => ({ key: 'k', value: codec.encode(batch(i, 4)) })));
  const tokens: string[] = [];
  let calls = 0;
  const flaky: Store = {
    ...s,
    flowsInsert: async (table, blocks, settings) => {
      tokens.push(String(settings.insert_deduplication_token));
      await s.flowsInsert(table, blocks, settings);
      if (++calls === 1) throw new Error('connection reset after the insert');
    },
  };
  const sink = createSink({ transport, store: flaky, topics, settings: { batchRows: 1000, flushMs: 20 }, logger, registry, retry: { attempts: 3, baseMs: 1 } });
  await sink.start();
  await waitCaughtUp(transport, 'tollgate-sink', topics.enriched);
  await sink.stop();
  assert.equal(tokens[0], tokens[1]);
  assert.match(tokens[0]!, /^retry\.flows\.enriched\.v1\/\d\/\d+-\d+$/);
  assert.deepEqual(await s.bytesByWorkloadClass(), expected(6, 4));
  assert.equal(await flowCount(s), 24);
  assert.equal(sink.stats().retries, 1);
});

test('TOLLGATE_SINK_BATCH_ROWS above one insert block is a ConfigError', async () => {
  const { loadSinkConfig } = await import('./config.ts');
  assert.throws(() => loadSinkConfig({ TOLLGATE_SINK_BATCH_ROWS: '1500000' }), /TOLLGATE_SINK_BATCH_ROWS/);
  assert.deepEqual(loadSinkConfig({ TOLLGATE_SINK_BATCH_ROWS: '1000000' }).batchRows, 1_000_000);
});
