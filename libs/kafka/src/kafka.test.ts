// The Kafka transport on the REAL broker (bash infra/kafka/kafka.sh ensure; TOLLGATE_TEST_KAFKA
// names another one), once per client.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { ConfigError } from '@tollgate/config';
import { createLogger } from '@tollgate/log';
import type { BatchHandler, ConsumerOptions, InMessage, Transport } from '@tollgate/pipeline';
import { Kafka, logLevel } from 'kafkajs';
import { createKafkaTransport, kafkaClients, checkBrokers } from './index.ts';

const BROKER = process.env.TOLLGATE_TEST_KAFKA ?? '127.0.0.1:9092';
const logger = createLogger('silent');
const run = `${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
const name = (what: string) => `tollgate-test-${run}-${what}`;

before(async () => {
  try {
    await checkBrokers([BROKER], 3_000);
  } catch {
    throw new Error(`Kafka is not running on ${BROKER}: start it with \`bash infra/kafka/kafka.sh ensure\``);
  }
});

/** Runs a consumer until `until(seen)` holds, then closes it. Batches as delivered. */
async function consume(t: Transport, options: ConsumerOptions, until: (seen: InMessage[]) => boolean, handle?: BatchHandler): Promise<InMessage[][]> {
  const batches: InMessage[][] = [];
  const c = await t.consumer('test', options);
  let resolveDone!: () => void;
  const reached = new Promise<void>((r) => (resolveDone = r));
  await c.run(async (messages) => {
    if (handle) await handle(messages);
    batches.push(messages);
    if (until(batches.flat())) resolveDone();
  });
  const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`timed out; got ${batches.flat().length} messages`)), 30_000).unref());
  try {
    await Promise.race([reached, timeout, c.done.then(() => Promise.reject(new Error('consumer stopped early')))]);
  } finally {
    await c.close();
  }
  return batches;
}

/** Transactions written by another client (kafkajs), each record its own send (its own record batch): [values, commit]. */
async function writeTransactions(topic: string, transactionalId: string, transactions: Array<[string[], boolean]>): Promise<void> {
  const kafka = new Kafka({ clientId: 'tx-writer', brokers: [BROKER], logLevel: logLevel.NOTHING });
  const w = kafka.producer({ transactionalId, idempotent: true, maxInFlightRequests: 1 });
  await w.connect();
  try {
    for (const [values, commit] of transactions) {
      const tx = await w.transaction();
      for (const v of values) await tx.send({ topic, messages: [{ key: 'k', value: v }] });
      await (commit ? tx.commit() : tx.abort());
    }
  } finally {
    await w.disconnect();
  }
}

for (const client of kafkaClients) {
  describe(`kafka transport (${client})`, () => {
    let t: Transport;
    before(async () => {
      t = await createKafkaTransport({ brokers: [BROKER], client, clientId: `test-${client}`, logger });
    });
    after(async () => {
      await t?.close();
    });

    test('round trip: keys keep their partition, headers and values arrive, one partition per batch in offset order, commits', async () => {
      const topic = name(`${client}-rt`);
      await t.ensureTopics([topic], 3);
      const p = await t.producer('rt');
      const sent = Array.from({ length: 60 }, (_, i) => ({ key: `node-${i % 7}`, value: Buffer.from(`value-${i}`), headers: { seq: String(i), agent: 'a1' } }));
      await p.send(topic, sent.slice(0, 30));
      await p.send(topic, sent.slice(30));
      await p.close();
      const end = await t.endOffsets(topic);
      assert.equal([...end.values()].reduce((a, b) => a + b, 0), 60);
      assert.deepEqual([...end.keys()].sort(), [0, 1, 2]);

      const group = name(`${client}-rt-g`);
      const batches = await consume(t, { groupId: group, topics: [topic], maxBatch: 8, maxWaitMs: 200 }, (s) => s.length >= 60);
      const seen = batches.flat();
      assert.equal(seen.length, 60);
      for (const b of batches) {
        assert.ok(b.length <= 8);
        assert.ok(b.every((m) => m.partition === b[0]!.partition && m.topic === topic));
        for (let i = 1; i < b.length; i++) assert.ok(b[i]!.offset > b[i - 1]!.offset);
      }
      const partitionOfKey = new Map<string, number>();
      for (const m of seen) {
        const i = Number(m.headers.seq);
        assert.equal(m.key, sent[i]!.key);
        assert.equal(m.value.toString(), `value-${i}`);
        assert.deepEqual(m.headers, { seq: String(i), agent: 'a1' });
        assert.equal(partitionOfKey.get(m.key) ?? m.partition, m.partition, `key ${m.key} on one partition`);
        partitionOfKey.set(m.key, m.partition);
      }
      assert.deepEqual([...new Set(seen.map((m) => Number(m.headers.seq)))].sort((a, b) => a - b), sent.map((_, i) => i));
      // Per key, the order of sending is the order of offsets.
      for (const key of partitionOfKey.keys()) {
        const seqs = seen.filter((m) => m.key === key).sort((a, b) => a.offset - b.offset).map((m) => Number(m.headers.seq));
        assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b));
      }
      assert.deepEqual(await t.committed(group, topic), end);
    });

    test('commit only after the handler: a failed batch is delivered again to the next consumer, nothing lost', async () => {
      const topic = name(`${client}-commit`);
      await t.ensureTopics([topic], 1);
      const p = await t.producer('commit');
      await p.send(topic, Array.from({ length: 20 }, (_, i) => ({ key: 'k', value: Buffer.from(String(i)) })));
      await p.close();
      const group = name(`${client}-commit-g`);

      const first = await t.consumer('c1', { groupId: group, topics: [topic], maxBatch: 5, maxWaitMs: 200 });
      const handled: number[] = [];
      let calls = 0;
      await first.run(async (messages) => {
        calls++;
        if (calls === 2) throw new Error('boom');
        handled.push(...messages.map((m) => m.offset));
      });
      await assert.rejects(first.done, /boom/);
      await first.close(); // idempotent after a failure
      assert.deepEqual(handled, [0, 1, 2, 3, 4]);
      assert.deepEqual(await t.committed(group, topic), new Map([[0, 5]]));

      const again = (await consume(t, { groupId: group, topics: [topic], maxBatch: 5, maxWaitMs: 200 }, (s) => s.some((m) => m.offset === 19))).flat();
      assert.deepEqual(
        again.map((m) => m.offset),
        Array.from({ length: 15 }, (_, i) => i + 5),
      );
      assert.deepEqual(
        again.map((m) => m.value.toString()),
        Array.from({ length: 15 }, (_, i) => String(i + 5)),
      );
      assert.deepEqual(await t.committed(group, topic), new Map([[0, 20]]));
    });

    test('read_committed: an aborted transaction is never delivered, also when a fetch stops before its abort marker', { timeout: 60_000 }, async () => {
      const topic = name(`${client}-aborted`);
      await t.ensureTopics([topic], 1);
      await writeTransactions(topic, name(`${client}-aborted-tx`), [
        [['c0', 'c1'], true],
        [['a0', 'a1', 'a2', 'a3', 'a4'], false],
        [['c2'], true],
        [['b0', 'b1'], false],
        [['c3'], true],
      ]);
      // Fetches of one batch each: no response holds an aborted transaction together with its marker.
      const small = await createKafkaTransport({ brokers: [BROKER], client, clientId: `aborted-${client}`, logger, tuning: { fetchMaxBytes: 1, fetchMaxBytesPerPartition: 1 } });
      try {
        const got = (await consume(small, { groupId: name(`${client}-aborted-g`), topics: [topic], maxBatch: 1, maxWaitMs: 50 }, (seen) => seen.some((m) => m.value.toString() === 'c3'))).flat();
        assert.deepEqual(got.map((m) => m.value.toString()), ['c0', 'c1', 'c2', 'c3']);
      } finally {
        await small.close();
      }
    });

    test('transactional input: a caught-up group commits past the transaction markers (lag 0), never past a record it holds', { timeout: 120_000 }, async (tc) => {
      const topic = name(`${client}-markers`);
      await t.ensureTopics([topic], 1);
      // Three transactions: committed, aborted, committed.
      await writeTransactions(topic, name(`${client}-markers-tx`), [
        [['t0', 't1', 't2'], true],
        [['x0', 'x1'], false],
        [['t3'], true],
      ]);
      // The log: t0 t1 t2 (0-2), commit marker (3), x0 x1 (4-5), abort marker (6), t3 (7), commit marker (8).
      const END = 9;
      const T3 = 7;
      // The broker writes a transaction's markers after EndTxn returns: wait for the last one (a CI
      // run read the end offset 8, before it).
      for (const deadline = Date.now() + 10_000; (await t.endOffsets(topic)).get(0) !== END && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 100));
      assert.deepEqual(await t.endOffsets(topic), new Map([[0, END]]));
      const committed = async (group: string) => (await t.committed(group, topic)).get(0);
      const waitCommitted = async (group: string, want: number) => {
        const deadline = Date.now() + 30_000;
        while ((await committed(group)) !== want && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
        return committed(group);
      };
      const running = async (transport: Transport, options: ConsumerOptions, handle: BatchHandler) => {
        const c = await transport.consumer('markers', options);
        await c.run(handle);
        return c;
      };
      const valuesOf = (seen: InMessage[]) => seen.map((m) => `${m.offset}:${m.value.toString()}`);

      // Fetches of one record batch each, so the markers come alone (kafkajs moves past the markers
      // of a fetch that also had records by itself when the last record is resolved).
      const small = await createKafkaTransport({ brokers: [BROKER], client, clientId: `markers-${client}`, logger, tuning: { fetchMaxBytes: 1, fetchMaxBytesPerPartition: 1 } });
      tc.after(() => small.close());
      // Holding t2 and after (the handler resolves with t2's offset): committed stays at t2, with the
      // group idle on the markers for a while.
      const group = name(`${client}-markers-g`);
      const held: InMessage[] = [];
      const a = await running(small, { groupId: group, topics: [topic], maxBatch: 100, maxWaitMs: 100, transactionalInput: true }, async (messages) => {
        held.push(...messages);
        return 2;
      });
      try {
        const deadline = Date.now() + 30_000;
        while (!held.some((m) => m.offset === T3) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
        assert.deepEqual(valuesOf(held), ['0:t0', '1:t1', '2:t2', '7:t3']);
        await new Promise((r) => setTimeout(r, 3_000));
        assert.equal(await committed(group), 2, 'never past a record the handler holds');
      } finally {
        await a.close();
      }

      // The next member of the group re-reads from t2; once it handled t3 it commits past the last
      // marker: the group's lag is 0.
      const again: InMessage[] = [];
      const b = await running(small, { groupId: group, topics: [topic], maxBatch: 100, maxWaitMs: 100, transactionalInput: true }, async (messages) => {
        again.push(...messages);
      });
      try {
        assert.equal(await waitCommitted(group, END), END, 'a caught-up group commits past the markers');
        assert.deepEqual(valuesOf(again), ['2:t2', '7:t3']);
      } finally {
        await b.close();
      }

      // A new group, fetches as large as they come (records and markers in one): lag 0 too.
      const fresh = name(`${client}-markers-fresh`);
      const seen: InMessage[] = [];
      const c = await running(t, { groupId: fresh, topics: [topic], maxBatch: 100, maxWaitMs: 100, transactionalInput: true }, async (messages) => {
        seen.push(...messages);
      });
      try {
        assert.equal(await waitCommitted(fresh, END), END);
        assert.deepEqual(valuesOf(seen), ['0:t0', '1:t1', '2:t2', '7:t3']);
      } finally {
        await c.close();
      }

      // Without transactionalInput a consumer commits only past records it handled: t3's offset + 1.
      const plain = name(`${client}-markers-plain`);
      const d = await running(t, { groupId: plain, topics: [topic], maxBatch: 100, maxWaitMs: 100 }, async () => {});
      try {
        assert.equal(await waitCommitted(plain, T3 + 1), T3 + 1);
        await new Promise((r) => setTimeout(r, 1_500));
        assert.equal(await committed(plain), T3 + 1);
      } finally {
        await d.close();
      }
    });

    test('a rebalance while a partition was never committed: every record is handled, none skipped by a later commit', { timeout: 90_000 }, async () => {
      // The group's first member fetches both partitions and sits on its first batch; a second
      // member joins, so the first one keeps one partition under a new generation with nothing
      // committed yet. What it fetched and set aside at the join must come again, not be passed over.
      const topic = name(`${client}-rejoin`);
      await t.ensureTopics([topic], 2);
      const p = await t.producer('rejoin');
      const keys = Array.from({ length: 40 }, (_, i) => `node-${i}`);
      await p.send(topic, keys.map((key, i) => ({ key, value: Buffer.from(String(i)) })));
      const group = name(`${client}-rejoin-g`);
      const handled = new Set<string>();
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      let entered!: () => void;
      const inFirst = new Promise<void>((r) => (entered = r));
      let calls = 0;
      const a = await t.consumer('a', { groupId: group, topics: [topic], maxBatch: 2, maxWaitMs: 100 });
      await a.run(async (messages) => {
        if (++calls === 1) {
          entered();
          await gate;
        }
        for (const m of messages) handled.add(`${m.partition}/${m.offset}`);
      });
      const b = await t.consumer('b', { groupId: group, topics: [topic], maxBatch: 2, maxWaitMs: 100 });
      try {
        await inFirst;
        await new Promise((r) => setTimeout(r, 1_500)); // a's stream fetches the rest meanwhile
        await b.run(async (messages) => {
          for (const m of messages) handled.add(`${m.partition}/${m.offset}`);
        });
        await new Promise((r) => setTimeout(r, 6_000)); // the group rebalances around a's handler
        release();
        await p.send(topic, keys.map((key, i) => ({ key, value: Buffer.from(String(100 + i)) })));
        const end = await t.endOffsets(topic);
        const deadline = Date.now() + 45_000;
        const caughtUp = async () => {
          const c = await t.committed(group, topic);
          return [...end].every(([part, o]) => (c.get(part) ?? -1) >= o);
        };
        while (!(await caughtUp()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 250));
        assert.ok(await caughtUp(), `the group did not commit to the end: ${JSON.stringify([...(await t.committed(group, topic))])} of ${JSON.stringify([...end])}`);
        const missing = [...end].flatMap(([part, o]) => Array.from({ length: o }, (_, i) => `${part}/${i}`)).filter((k) => !handled.has(k));
        assert.deepEqual(missing, [], 'records committed past without being handled');
      } finally {
        release();
        await p.close();
        await a.close();
        await b.close();
      }
    });

    test('onAssign moves the start forward: start = max(committed, returned)', async () => {
      const topic = name(`${client}-assign`);
      await t.ensureTopics([topic], 1);
      const p = await t.producer('assign');
      await p.send(topic, Array.from({ length: 10 }, (_, i) => ({ key: 'k', value: Buffer.from(String(i)) })));
      const group = name(`${client}-assign-g`);
      const calls: Array<[string, number[]]> = [];
      const onAssign = (start: number) => async (tp: string, partitions: number[]) => {
        calls.push([tp, partitions]);
        return new Map([[0, start]]);
      };

      const first = (await consume(t, { groupId: group, topics: [topic], maxBatch: 100, maxWaitMs: 200, onAssign: onAssign(4) }, (s) => s.some((m) => m.offset === 9))).flat();
      assert.deepEqual(
        first.map((m) => m.offset),
        [4, 5, 6, 7, 8, 9],
      );
      assert.deepEqual(calls, [[topic, [0]]]);

      // Committed (10) is past the returned offset (2): the committed one wins.
      await p.send(topic, Array.from({ length: 5 }, (_, i) => ({ key: 'k', value: Buffer.from(String(10 + i)) })));
      await p.close();
      const second = (await consume(t, { groupId: group, topics: [topic], maxBatch: 100, maxWaitMs: 200, onAssign: onAssign(2) }, (s) => s.some((m) => m.offset === 14))).flat();
      assert.deepEqual(
        second.map((m) => m.offset),
        [10, 11, 12, 13, 14],
      );
    });

    test('ensureTopics creates what is missing and is idempotent', async () => {
      const a = name(`${client}-ens-a`);
      const b = name(`${client}-ens-b`);
      await t.ensureTopics([a], 2);
      await t.ensureTopics([a, b, `${b}.dlq`], 3);
      await t.ensureTopics([a, b, `${b}.dlq`], 3);
      assert.deepEqual([...(await t.endOffsets(a)).entries()], [[0, 0], [1, 0]]);
      assert.deepEqual([...(await t.endOffsets(b)).entries()], [[0, 0], [1, 0], [2, 0]]);
      assert.equal((await t.endOffsets(`${b}.dlq`)).size, 3);
      assert.deepEqual(await t.committed(name(`${client}-nogroup`), a), new Map());
    });

    test('an unreachable broker is a ConfigError naming TOLLGATE_KAFKA_BROKERS and the broker', { timeout: 15_000 }, async () => {
      await assert.rejects(createKafkaTransport({ brokers: ['127.0.0.1:1'], client, clientId: 'test', logger }), (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.equal(err.setting, 'TOLLGATE_KAFKA_BROKERS');
        assert.match(err.message, /127\.0\.0\.1:1 \(ECONNREFUSED\)/);
        return true;
      });
    });
  });
}
