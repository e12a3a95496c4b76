import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRegistry, defineMetrics, metricsTable, startMetricsServer, stageMetrics } from './index.ts';

const demo = defineMetrics('demo', {
  tollgate_demo_things_total: { type: 'counter', help: 'Things seen.', labels: ['kind'] },
  tollgate_demo_depth: { type: 'gauge', help: 'Queue depth.' },
});

test('instruments are typed, created once per registry, and served on /metrics', async () => {
  const registry = createRegistry();
  const m = demo.instruments(registry);
  assert.equal(demo.instruments(registry), m);
  m.tollgate_demo_things_total.inc({ kind: 'a' }, 3);
  m.tollgate_demo_depth.set(7);
  stageMetrics.instruments(registry).tollgate_records_in_total.inc({ stage: 'sink' }, 11);
  let ready: boolean | string = 'no partitions assigned';
  const server = await startMetricsServer({ port: 0, host: '127.0.0.1', registry, readiness: { ready: () => ready } });
  try {
    const base = `http://127.0.0.1:${server.port}`;
    const text = await (await fetch(`${base}/metrics`)).text();
    assert.match(text, /^tollgate_demo_things_total\{kind="a"\} 3$/m);
    assert.match(text, /^tollgate_demo_depth 7$/m);
    assert.match(text, /^tollgate_records_in_total\{stage="sink"\} 11$/m);
    assert.match(text, /^tollgate_process_resident_memory_bytes \d+/m);
    assert.equal((await fetch(`${base}/healthz`)).status, 200);
    const notReady = await fetch(`${base}/readyz`);
    assert.equal(notReady.status, 503);
    assert.match(await notReady.text(), /no partitions assigned/);
    ready = true;
    assert.equal((await fetch(`${base}/readyz`)).status, 200);
    assert.equal((await fetch(`${base}/nope`)).status, 404);
  } finally {
    await server.stop();
    await server.stop();
  }
});

test('names are checked and the table lists every metric once', () => {
  assert.throws(() => defineMetrics('x', { tollgate_bad: { type: 'counter', help: 'h' } }), /must end in _total/);
  assert.throws(() => defineMetrics('x', { other_total: { type: 'counter', help: 'h' } }), /must match/);
  const table = metricsTable([demo, demo]);
  assert.equal(table.split('\n').length, 4);
  assert.match(table, /\| `tollgate_demo_things_total` \| counter \| demo \| `kind` \| Things seen\. \|/);
});
