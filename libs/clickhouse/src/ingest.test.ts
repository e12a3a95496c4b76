// The ingest module on real chDB: fencing of a stale sink, replay of an interrupted chunk
// with its boundaries whatever the re-read's batches, late data older than flows' TTL.
// (The crash-point matrix through the real broker is services/sink/src/crash-matrix.test.ts.)
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '@tollgate/log';
import { createIngest, FencedError, type IngestItem, type IngestOptions } from './ingest.ts';
import { columnsOf, rollupBlock } from './rows.ts';
import { openStore, type Store } from './store.ts';
import { flowRow, hourAgo } from './testing.ts';

const logger = createLogger('silent');
const dataDir = mkdtempSync(join(tmpdir(), 'tollgate-ingest-'));
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

const TOPIC = 'flows.enriched.v1';
/** Message `offset`: 3 rows of workload w<offset % 2>, egress 1000 * offset + j. `hoursAgo` places it in time. */
function item(offset: number, hoursAgo = 1, partition = 0): IngestItem {
  const time = hourAgo(hoursAgo);
  const rows = [0, 1, 2].map((j) => flowRow({ time, local_workload: `w${offset % 2}`, egress_bytes: 1000 * offset + j, ingress_bytes: 1, src_partition: partition, src_offset: offset, conntrack_id: j }));
  const d = new Date(time * 1000);
  return { offset, month: d.getUTCFullYear() * 12 + d.getUTCMonth(), flows: columnsOf(rows), rollup: rollupBlock(rows) };
}
const egressOf = (offsets: number[]) => offsets.reduce((n, o) => n + 3000 * o + 3, 0);
const range = (a: number, b: number) => Array.from({ length: b - a + 1 }, (_, i) => a + i);
const noReject = async (o: number, r: string) => assert.fail(`rejected ${o}: ${r}`);

async function totals(s: Store): Promise<{ flows: number; flowsEgress: number; rollup: number; destinations: number }> {
  const rs = await s.client.query({
    query: `SELECT toString((SELECT count() FROM ${s.database}.flows)) AS f, toString((SELECT sum(egress_bytes) FROM ${s.database}.flows)) AS fe,
      toString((SELECT sum(egress_bytes) FROM ${s.database}.workload_hourly)) AS w, toString((SELECT sum(egress_bytes) FROM ${s.database}.destinations_hourly)) AS d`,
    format: 'JSONEachRow',
  });
  const [r] = await rs.json<{ f: string; fe: string; w: string; d: string }>();
  return { flows: Number(r!.f), flowsEgress: Number(r!.fe), rollup: Number(r!.w), destinations: Number(r!.d) };
}

const opts = (owner: string, extra: Partial<IngestOptions> = {}): IngestOptions => ({ maxChunkRows: 1000, owner, logger, retry: { attempts: 1, baseMs: 1 }, ...extra });

test('a newer sink fences the older one: the stale sink stores nothing once the partition is claimed after it', async () => {
  const s = await store('fence');
  const a = createIngest(s, opts('a'));
  const b = createIngest(s, opts('b'));
  assert.deepEqual(await a.resume(TOPIC, [0]), new Map());
  assert.equal(await a.store(TOPIC, 0, [item(0), item(1)], 1, noReject), 2);
  assert.deepEqual(await b.resume(TOPIC, [0]), new Map([[0, 2]]));
  await assert.rejects(a.store(TOPIC, 0, [item(2)], 2, noReject), FencedError);
  assert.equal(await b.store(TOPIC, 0, [item(2), item(3)], 3, noReject), 4);
  // The stale one stays fenced (its state is dropped; it must resume, which claims anew).
  await assert.rejects(a.store(TOPIC, 0, [item(4)], 4, noReject), /not claimed by this sink/);
  assert.deepEqual(await totals(s), { flows: 12, flowsEgress: egressOf([0, 1, 2, 3]), rollup: egressOf([0, 1, 2, 3]), destinations: egressOf([0, 1, 2, 3]) });
});

test('a zombie between its intent and its insert: the new owner, claiming in between, stores that chunk again with the same token', async () => {
  for (const when of ['ledger', 'flows'] as const) {
    const s = await store(`zombie_${when}`);
    const b = createIngest(s, opts('b'));
    let bResume: Map<number, number> | undefined;
    // The zombie's fault hook is where the new owner claims: after the intent (before the fence
    // check) or after the flows insert (the check passed, the zombie goes on writing).
    const a = createIngest(s, opts('a', { fault: async (step) => void (step === when && !bResume && (bResume = await b.resume(TOPIC, [0]))) }));
    await a.resume(TOPIC, [0]);
    const zombie = a.store(TOPIC, 0, range(0, 4).map((o) => item(o)), 4, noReject);
    if (when === 'ledger') await assert.rejects(zombie, FencedError);
    else assert.equal(await zombie, 5, 'the zombie finished its chunk before it could notice');
    assert.deepEqual(bResume, new Map([[0, 0]]), "the new owner saw the zombie's intent and re-reads it");
    // The new owner re-reads with other batches: two then three messages; the chunk 0..4 is held until complete.
    assert.equal(await b.store(TOPIC, 0, [item(0), item(1)], 1, noReject), 0);
    assert.equal(await b.store(TOPIC, 0, [item(2), item(3), item(4), item(5)], 5, noReject), 6);
    await assert.rejects(a.store(TOPIC, 0, [item(5)], 5, noReject), /claimed by b|not claimed/);
    const want = egressOf(range(0, 5));
    assert.deepEqual(await totals(s), { flows: 18, flowsEgress: want, rollup: want, destinations: want }, when);
  }
});

test("an interrupted chunk's rollup feed replayed after flows merged its part (OPTIMIZE FINAL): every rollup once", async () => {
  // Rollups fed by reading the chunk back from flows (INSERT ... SELECT) were fed twice here: the
  // views' deduplication ids of an INSERT SELECT depend on how the rows are read (a chaos run: one
  // chunk twice in workload_hourly, reproduced on its kept store once flows had merged the part).
  const s = await store('merged');
  class Crash extends Error {}
  const chunk = range(0, 5).map((o) => item(o, 1 + o));
  const first = createIngest(s, opts('x', { fault: (st) => { if (st === 'rollup') throw new Crash(st); } }));
  await first.resume(TOPIC, [0]);
  await assert.rejects(first.store(TOPIC, 0, chunk, 5, noReject), Crash);
  // 40,000 other rows of the same workloads and hours, then a merge: the chunk's rows end up
  // spread over several granules of one big part.
  await s.client.command({
    query: `INSERT INTO merged.flows (cluster, local_namespace, local_workload_kind, local_workload, time, src_topic, src_partition, src_offset)
            SELECT 'test', 'shop', 'Deployment', if(number % 2 = 0, 'w0', 'w1'), toDateTime(${hourAgo(7)}) + intDiv(number, 2) % 25200, 'other', 0, number FROM numbers(40000)`,
  });
  await s.client.command({ query: 'OPTIMIZE TABLE merged.flows FINAL' });
  const second = createIngest(s, opts('y'));
  assert.deepEqual(await second.resume(TOPIC, [0]), new Map([[0, 0]]));
  assert.equal(await second.store(TOPIC, 0, [...chunk, item(6, 1)], 6, noReject), 7);
  const want = egressOf(range(0, 6));
  const t = await totals(s);
  assert.deepEqual({ rollup: t.rollup, destinations: t.destinations }, { rollup: want, destinations: want });
});

test('an interrupted chunk is stored again with its boundaries across any re-read; two restarts and a merged ledger change nothing', async () => {
  const s = await store('replay');
  class Crash extends Error {}
  const crashing = (step: string) => createIngest(s, opts('x', { fault: (st) => { if (st === step) throw new Crash(step); } }));
  const first = crashing('flows');
  await first.resume(TOPIC, [3]);
  await assert.rejects(first.store(TOPIC, 3, range(10, 17).map((o) => item(o, 1, 3)), 17, noReject), Crash);
  await s.client.command({ query: 'OPTIMIZE TABLE replay.ingest_ledger FINAL' });
  // The second one crashes too, after the rollup of the replayed chunk.
  const second = crashing('rollup');
  assert.deepEqual(await second.resume(TOPIC, [3]), new Map([[3, 10]]));
  assert.equal(await second.store(TOPIC, 3, [item(10, 1, 3), item(11, 1, 3), item(12, 1, 3)], 12, noReject), 10);
  await assert.rejects(second.store(TOPIC, 3, range(13, 17).map((o) => item(o, 1, 3)), 17, noReject), Crash);
  const third = createIngest(s, opts('y'));
  assert.deepEqual(await third.resume(TOPIC, [3]), new Map([[3, 10]]));
  for (const o of range(10, 19)) assert.equal(await third.store(TOPIC, 3, [item(o, 1, 3)], o, noReject), o < 17 ? 10 : o + 1);
  const want = egressOf(range(10, 19));
  assert.deepEqual(await totals(s), { flows: 30, flowsEgress: want, rollup: want, destinations: want });
  assert.equal(third.stats().replayed, 1);
});

test('late data older than the flows TTL reaches every rollup exactly once, also when replayed', async () => {
  const s = await store('late');
  class Crash extends Error {}
  const old = (o: number) => item(o, 40 * 24);
  const a = createIngest(s, opts('a', { fault: (st) => { if (st === 'rollup') throw new Crash(); } }));
  await a.resume(TOPIC, [0]);
  await assert.rejects(a.store(TOPIC, 0, range(0, 5).map(old), 5, noReject), Crash);
  await s.client.command({ query: 'OPTIMIZE TABLE late.flows FINAL' });
  const b = createIngest(s, opts('b'));
  assert.deepEqual(await b.resume(TOPIC, [0]), new Map([[0, 0]]));
  assert.equal(await b.store(TOPIC, 0, range(0, 5).map(old), 5, noReject), 6);
  const t = await totals(s);
  // flows' TTL dropped the 40-day-old rows; the rollups hold them once.
  assert.equal(t.flows, 0);
  assert.equal(t.rollup, egressOf(range(0, 5)));
  assert.equal(t.destinations, egressOf(range(0, 5)));
});

test('chunks stay below one insert block: maxChunkRows is capped, a larger message is refused', async () => {
  const s = await store('cap');
  assert.throws(() => createIngest(s, opts('a', { maxChunkRows: 2_000_000 })), /maxChunkRows must be 1\.\.1000000/);
  const small = createIngest(s, opts('a', { maxChunkRows: 5 }));
  await small.resume(TOPIC, [0]);
  // 3 rows per message, at most 5 per chunk: one message per chunk.
  assert.equal(await small.store(TOPIC, 0, range(0, 3).map((o) => item(o)), 3, noReject), 4);
  assert.equal(small.stats().chunks, 4);
  const tiny = createIngest(s, opts('b', { maxChunkRows: 2 }));
  await tiny.resume(TOPIC, [0]);
  await assert.rejects(tiny.store(TOPIC, 0, [item(4)], 4, noReject), /has 3 rows, above the chunk limit 2/);
});

test("a re-assignment to the same sink while it holds an interrupted chunk's re-read keeps what it holds (the consumer does not deliver it again)", async () => {
  for (const redelivers of [false, true]) {
    const s = await store(`rejoin_${redelivers}`);
    // Sink a crashes right after its intent row for 0..9: nothing of the chunk is stored.
    const a = createIngest(s, opts('a', { fault: (step) => assert.notEqual(step, 'ledger', 'crash after the intent') }));
    await a.resume(TOPIC, [0]);
    await assert.rejects(a.store(TOPIC, 0, range(0, 9).map((o) => item(o)), 9, noReject));
    const b = createIngest(s, opts('b'));
    assert.deepEqual(await b.resume(TOPIC, [0]), new Map([[0, 0]]));
    assert.equal(await b.store(TOPIC, 0, range(0, 4).map((o) => item(o)), 4, noReject), 0, 'held until offset 9 was read');
    // A rebalance gives the partition to b again (same process). The consumer resumes after what
    // it handled (0..4 are not delivered again), or, another client, from the committed offset.
    assert.deepEqual(await b.resume(TOPIC, [0]), new Map([[0, 0]]));
    const again = redelivers ? range(0, 9) : range(5, 9);
    assert.equal(await b.store(TOPIC, 0, again.map((o) => item(o)), 9, noReject), 10);
    assert.deepEqual(await totals(s), { flows: 30, flowsEgress: egressOf(range(0, 9)), rollup: egressOf(range(0, 9)), destinations: egressOf(range(0, 9)) }, `redelivers: ${redelivers}`);
  }
});
