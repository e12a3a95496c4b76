// Fuzz of the sink's decoder and validator: 10,000 generated bad messages (random bytes,
// truncations, bit flips in the header of valid messages, valid Avro with hostile values:
// negative counters (longs beyond 2^53 the Avro decoder itself refuses), bad addresses, out-of-range indexes, huge arrays, bad
// windows) interleaved with valid traffic, through the sink on real chDB. Every bad one must be
// in the DLQ with a reason, the sink must not stop, and the valid traffic's totals must be exact.
// Seeded: a failure names its seed.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore, type Store } from '@tollgate/clickhouse';
import { createLogger } from '@tollgate/log';
import { allTopics, caughtUp, DlqHeaders, MemoryTransport, topicNames, type InMessage, type OutMessage } from '@tollgate/pipeline';
import { Family, fromViews, SchemaRegistry, type EnrichedFlowBatch, type EnrichedFlowView } from '@tollgate/schema';
import { createSink } from './sink.ts';

const SEED = Number(process.env.TOLLGATE_FUZZ_SEED || 20261202);
const BAD = 10_000;
const logger = createLogger('silent');
const registry = SchemaRegistry.load();
const codec = registry.codec<EnrichedFlowBatch>(Family.enriched);
const dataDir = mkdtempSync(join(tmpdir(), 'tollgate-fuzz-'));
let store: Store | undefined;
after(async () => {
  await store?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

/** mulberry32: a small seeded PRNG. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const HOUR = Math.floor(Date.now() / 3_600_000) * 3_600_000 - 3_600_000;
const ep = (ip: string, workload: string) => ({ ip, port: 0, kind: 'POD' as const, cluster: 'c', namespace: 'ns', workload_kind: 'Deployment', workload, pod: `${workload}-1`, node: 'n1', zone: 'a', region: 'r', country: '', asn: 0, as_org: '', service: '', labels: {} });

function valid(i: number, flows: number): EnrichedFlowBatch {
  const views: EnrichedFlowView[] = Array.from({ length: flows }, (_, j) => ({
    time: HOUR + j, conntrack_id: i * 100 + j, protocol: 6, family: 'IPV4', role: 'INITIATOR',
    local: { ...ep('10.0.0.1', `w${i % 5}`), port: 40000 + j }, remote: { ...ep('10.0.1.1', 'db'), port: 5432 },
    service: '', class: 'CROSS_ZONE', cloud: 'aws', cloud_service: '', cloud_service_region: '', nat_gateway: false,
    egress_bytes: 7919 * i + j, ingress_bytes: i, egress_packets: 1, ingress_packets: 1,
  }));
  return fromViews({ cluster: 'c', node: 'n1', window_start: HOUR, window_end: HOUR + 60_000, source: { agent_id: 'a', seq: i, topic: 'raw', partition: 0, offset: i } }, views);
}

/** A bad message of one of the kinds, each of whose flows (if any) is bad. */
function bad(rnd: () => number, k: number): Buffer {
  const base = codec.encode(valid(k, 1 + Math.floor(rnd() * 4)));
  const kind = k % 8;
  const hostile = (mutate: (b: EnrichedFlowBatch) => void) => {
    const b = valid(k, 1 + Math.floor(rnd() * 3));
    mutate(b);
    return codec.encode(b);
  };
  switch (kind) {
    case 0:
      return Buffer.from(Array.from({ length: 1 + Math.floor(rnd() * 200) }, () => Math.floor(rnd() * 256)));
    case 1:
      return base.subarray(0, 1 + Math.floor(rnd() * (base.length - 2)));
    case 2: {
      // A bit flip in the marker or the writer's fingerprint.
      const c = Buffer.from(base);
      const at = Math.floor(rnd() * 10);
      c[at] = c[at]! ^ (1 << Math.floor(rnd() * 8));
      return c;
    }
    case 3:
      return hostile((b) => b.flows.forEach((f, j) => ((j % 2 ? f : (f as { ingress_packets: number })).ingress_packets = -1 - Math.floor(rnd() * 1e12), (f.egress_bytes = -1 - j))));
    case 4:
      return hostile((b) => b.flows.forEach((f) => (f.remote_ip = ['not-an-ip', '999.1.1.1', '::::', 'x'.repeat(500)][Math.floor(rnd() * 4)]!)));
    case 5:
      return hostile((b) => b.flows.forEach((f) => (f.local = b.endpoints.length + Math.floor(rnd() * 1000))));
    case 6:
      return hostile((b) => {
        b.window_start = -Math.floor(rnd() * 1e12);
      });
    default:
      return hostile((b) => {
        // A huge array: more flows than one chunk holds.
        const f = b.flows[0]!;
        b.flows = Array.from({ length: 2_001 }, () => f);
      });
  }
}

test(`fuzz: ${BAD} bad messages among valid ones all reach the DLQ with a reason; the valid totals stay exact (seed ${SEED})`, { timeout: 300_000 }, async () => {
  const rnd = prng(SEED);
  store = await openStore({ url: '', user: 'default', password: '', database: 'fuzz', dataDir }, logger);
  await store.migrate();
  const transport = new MemoryTransport({ maxLag: 1_000_000 });
  const topics = topicNames('fuzz');
  await transport.ensureTopics(allTopics(topics), 2);
  const messages: OutMessage[] = [];
  const truth = new Map<string, number>();
  let validCount = 0;
  let badCount = 0;
  for (let k = 0; badCount < BAD; k++) {
    if (k % 5 === 0) {
      const b = valid(validCount++, 3);
      for (const f of b.flows) {
        const w = b.endpoints[f.local]!.workload;
        truth.set(w, (truth.get(w) ?? 0) + f.egress_bytes);
      }
      messages.push({ key: `k${k % 7}`, value: codec.encode(b) });
    } else {
      messages.push({ key: `k${k % 7}`, value: bad(rnd, badCount++) });
    }
  }
  const producer = await transport.producer('fuzz');
  await producer.send(topics.enriched, messages);
  const sink = createSink({ transport, store, topics, settings: { batchRows: 2_000, flushMs: 20 }, logger, registry });
  await sink.start();
  while (!(await caughtUp(transport, 'tollgate-sink', topics.enriched))) {
    await Promise.race([new Promise((r) => setTimeout(r, 20)), sink.done]);
  }
  await sink.stop();
  await sink.done;

  const dlq: InMessage[] = [];
  const reader = await transport.consumer('dlq', { groupId: 'dlq-reader', topics: [`${topics.enriched}.dlq`], maxBatch: 10_000 });
  await reader.run(async (b) => void dlq.push(...b));
  while (dlq.length < BAD) await new Promise((r) => setTimeout(r, 20));
  await new Promise((r) => setTimeout(r, 200));
  await reader.close();
  assert.equal(dlq.length, BAD, `every bad message in the DLQ once (seed ${SEED})`);
  assert.ok(dlq.every((m) => /^(decode|invalid): ./.test(m.headers[DlqHeaders.reason] ?? '')), 'each with a reason');
  const kinds = new Set(dlq.map((m) => m.headers[DlqHeaders.reason]!.split(':')[0]));
  assert.deepEqual([...kinds].sort(), ['decode', 'invalid']);
  const got = new Map((await store.bytesByWorkloadClass()).map((r) => [r.workload, r.egress_bytes]));
  assert.deepEqual(got, new Map([...truth].sort()), `valid totals exact (seed ${SEED})`);
  const rs = await store.client.query({ query: 'SELECT toString(count()) AS n FROM fuzz.flows', format: 'JSONEachRow' });
  assert.equal(Number((await rs.json<{ n: string }>())[0]!.n), validCount * 3);
});
