import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryTransport } from './memory.ts';
import type { InMessage } from './transport.ts';

test('in-process transport: keyed order, commit after the handler, redelivery from the committed offset', async () => {
  const t = new MemoryTransport();
  await t.ensureTopics(['a'], 2);
  const p = await t.producer('p');
  await p.send('a', Array.from({ length: 10 }, (_, i) => ({ key: `k${i % 3}`, value: Buffer.from(String(i)) })));

  const seen: InMessage[] = [];
  let fail = true;
  const c1 = await t.consumer('c', { groupId: 'g', topics: ['a'], maxBatch: 2 });
  await c1.run(async (batch) => {
    if (seen.length >= 4 && fail) {
      fail = false;
      throw new Error('crash');
    }
    seen.push(...batch);
  });
  await assert.rejects(c1.done, /crash/);
  const committed = [...(await t.committed('g', 'a')).values()].reduce((a, b) => a + b, 0);
  assert.equal(committed, seen.length, 'only handled batches are committed');

  const c2 = await t.consumer('c', { groupId: 'g', topics: ['a'], maxBatch: 2 });
  await c2.run(async (batch) => void seen.push(...batch));
  while ([...(await t.committed('g', 'a')).values()].reduce((a, b) => a + b, 0) < 10) await new Promise((r) => setTimeout(r, 5));
  await c2.close();
  await c2.done;
  assert.deepEqual(seen.map((m) => Number(m.value.toString())).sort((a, b) => a - b), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  for (const k of ['k0', 'k1', 'k2']) {
    const vals = seen.filter((m) => m.key === k).map((m) => Number(m.value.toString()));
    assert.deepEqual(vals, [...vals].sort((a, b) => a - b), `order kept for ${k}`);
    assert.equal(new Set(seen.filter((m) => m.key === k).map((m) => m.partition)).size, 1);
  }
});

test('onAssign can move the start past what a sink already holds', async () => {
  const t = new MemoryTransport();
  await t.ensureTopics(['a'], 1);
  const p = await t.producer('p');
  await p.send('a', Array.from({ length: 5 }, (_, i) => ({ key: 'k', value: Buffer.from(String(i)) })));
  const got: number[] = [];
  const c = await t.consumer('c', { groupId: 'g', topics: ['a'], onAssign: async () => new Map([[0, 3]]) });
  await c.run(async (b) => void got.push(...b.map((m) => m.offset)));
  while (got.length < 2) await new Promise((r) => setTimeout(r, 5));
  await c.close();
  assert.deepEqual(got, [3, 4]);
});

test('producers wait while a subscribed group lags (bounded queue)', async () => {
  const t = new MemoryTransport({ maxLag: 3 });
  await t.ensureTopics(['a'], 1);
  const c = await t.consumer('c', { groupId: 'g', topics: ['a'], maxBatch: 1 });
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  await c.run(async () => gate);
  const p = await t.producer('p');
  let sent = false;
  const sending = p.send('a', Array.from({ length: 6 }, () => ({ key: 'k', value: Buffer.alloc(1) }))).then(() => (sent = true));
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(sent, false, 'producer is held back');
  release();
  await sending;
  await c.close();
});
