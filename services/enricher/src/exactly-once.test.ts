// The enricher exactly once, on the REAL broker (bash infra/kafka/kafka.sh ensure), with each
// Kafka client: one enricher process is SIGKILLed in the middle of a transaction (its sends done,
// its offsets and commit not), a second takes over and a third joins it (two replicas, rebalances). A read_committed reader must then see exactly one enriched message per raw
// message that has a local flow, with exactly its bytes, and every poison message once in the DLQ.
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { checkBrokers, createKafkaTransport, kafkaClients } from '@tollgate/kafka';
import { createLogger } from '@tollgate/log';
import { allTopics, caughtUp, dlqTopic, topicNames, type InMessage, type Transport } from '@tollgate/pipeline';
import { Family, SchemaRegistry, type EnrichedFlowBatch, type RawFlowBatch } from '@tollgate/schema';
import { batch, flow } from './testkit.ts';

const BROKER = process.env.TOLLGATE_KAFKA_BROKERS || '127.0.0.1:9092';
const FIXTURE = fileURLToPath(new URL('./exactly-once.fixture.ts', import.meta.url));
const logger = createLogger('silent');
const registry = SchemaRegistry.load();
const rawCodec = registry.codec<RawFlowBatch>(Family.raw);
const outCodec = registry.codec<EnrichedFlowBatch>(Family.enriched);
const run = `${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;

before(async () => {
  try {
    await checkBrokers([BROKER], 3_000);
  } catch {
    throw new Error(`Kafka is not running on ${BROKER}: start it with \`bash infra/kafka/kafka.sh ensure\``);
  }
});

function child(prefix: string, client: string, killAt: number, name: string): { proc: ChildProcess; started: Promise<void>; exited: Promise<number | null>; out: () => string } {
  const proc = spawn(process.execPath, [FIXTURE, BROKER, prefix, client, String(killAt), name], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const started = new Promise<void>((resolve, reject) => {
    proc.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('started')) resolve();
    });
    proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    proc.on('exit', (code, sig) => reject(new Error(`${name} exited (${code ?? sig}) before starting: ${out.slice(-1500)}`)));
  });
  started.catch(() => {});
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  return { proc, started, exited, out: () => out };
}

async function readAll(t: Transport, topic: string, groupId: string, n: number): Promise<InMessage[]> {
  const got: InMessage[] = [];
  const c = await t.consumer('reader', { groupId, topics: [topic], maxWaitMs: 100 });
  await c.run(async (b) => void got.push(...b));
  const deadline = Date.now() + 30_000;
  while (got.length < n && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  // Anything beyond n (a duplicate) has had time to show up too.
  await new Promise((r) => setTimeout(r, 1_000));
  await c.close();
  return got;
}

for (const client of kafkaClients) {
  test(`enricher exactly once (${client}): one SIGKILLed mid-transaction, two replicas taking over`, { timeout: 240_000 }, async () => {
    const prefix = `eo-${run}-${client}`;
    const topics = topicNames(prefix);
    const t = await createKafkaTransport({ brokers: [BROKER], client: 'platformatic', clientId: `eo-test-${client}`, logger });
    try {
      await t.ensureTopics(allTopics(topics), 3);
      // 90 raw messages: message i has one local flow of 1000 + i bytes out, i in; every 15th is poison.
      const producer = await t.producer('agent');
      const raws = Array.from({ length: 90 }, (_, i) =>
        i % 15 === 7
          ? { key: `k${i}`, value: Buffer.from(`poison ${i}`) }
          : { key: `k${i}`, value: rawCodec.encode(batch('n1', [flow({ id: i, src: '10.244.1.5', dst: '89.160.20.112', dport: 443, orig: 1000 + i, reply: i })], 1_700_000_000_000 + i * 1000)) },
      );
      await producer.send(topics.raw, raws);
      await producer.close();

      // a dies in its 4th transaction (sends done, offsets and commit not); b takes over (its
      // producers fence a's and abort a's open transaction); c joins while b works (a rebalance
      // with two replicas sharing the partitions).
      const a = child(prefix, client, 4, 'a');
      await a.started;
      assert.equal(await a.exited, null, `a should be SIGKILLed: ${a.out()}`);
      assert.match(a.out(), /killing at transaction 4/);
      const b = child(prefix, client, 0, 'b');
      await b.started;
      const c = child(prefix, client, 0, 'c');
      await c.started;
      const deadline = Date.now() + 120_000;
      while (!(await caughtUp(t, `${prefix}.enricher`, topics.raw))) {
        if (Date.now() > deadline) throw new Error(`not caught up: ${b.out()} ${c.out()}`);
        await new Promise((r) => setTimeout(r, 200));
      }
      for (const x of [b, c]) x.proc.kill('SIGTERM');
      await Promise.all([b.exited, c.exited]);

      const good = raws.map((_, i) => i).filter((i) => i % 15 !== 7);
      const out = await readAll(t, topics.enriched, `${prefix}.reader`, good.length);
      // Raw message i's flow has conntrack id i: the enriched flows say which raw message they came from.
      const ids: number[] = [];
      let egress = 0;
      for (const m of out) {
        for (const f of outCodec.decode(m.value).flows) {
          ids.push(f.conntrack_id);
          egress += f.egress_bytes;
        }
      }
      assert.equal(out.length, good.length, `one enriched message per raw message (got ${out.length}, want ${good.length})`);
      assert.deepEqual(ids.sort((x, y) => x - y), good, 'every raw message enriched exactly once');
      assert.equal(egress, good.reduce((sum, i) => sum + 1000 + i, 0));
      const dlq = await readAll(t, dlqTopic(topics.raw), `${prefix}.dlq-reader`, 6);
      assert.deepEqual(dlq.map((m) => m.value.toString()).sort(), raws.filter((_, i) => i % 15 === 7).map((r) => r.value.toString()).sort());
    } finally {
      await t.close();
    }
  });
}
