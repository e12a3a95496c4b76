import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '@tollgate/config';
import type { InMessage } from '@tollgate/pipeline';
import { StartFloors, chunkBySize, parseBroker, isRebalanceError } from './common.ts';

test('parseBroker reads host:port and [v6]:port, and names the setting otherwise', () => {
  assert.deepEqual(parseBroker('127.0.0.1:9092'), { host: '127.0.0.1', port: 9092 });
  assert.deepEqual(parseBroker('kafka-0.kafka:9094'), { host: 'kafka-0.kafka', port: 9094 });
  assert.deepEqual(parseBroker('[::1]:9092'), { host: '::1', port: 9092 });
  for (const bad of ['kafka', 'kafka:', 'kafka:0', 'kafka:70000', '::1:9092']) {
    assert.throws(() => parseBroker(bad), (e: unknown) => e instanceof ConfigError && e.setting === 'TOLLGATE_KAFKA_BROKERS' && e.message.includes(`'${bad}'`));
  }
});

test('chunkBySize keeps order and bounds each chunk; an oversized message travels alone', () => {
  const m = (i: number, size: number) => ({ key: `k${i}`, value: Buffer.alloc(size) });
  const msgs = [m(0, 400), m(1, 400), m(2, 400), m(3, 2000), m(4, 100)];
  const chunks = chunkBySize(msgs, 1000);
  assert.deepEqual(
    chunks.map((c) => c.map((x) => x.key)),
    [['k0', 'k1'], ['k2'], ['k3'], ['k4']],
  );
  assert.deepEqual(chunkBySize([], 1000), []);
});

test('StartFloors drops messages below the floor onAssign returned, per partition', async () => {
  const floors = new StartFloors();
  const calls: Array<[string, number[]]> = [];
  await floors.assign(
    async (topic, partitions) => {
      calls.push([topic, partitions]);
      return topic === 'a' ? new Map([[1, 5]]) : undefined;
    },
    new Map([
      ['a', [1, 0]],
      ['b', [0]],
      ['c', []],
    ]),
  );
  assert.deepEqual(calls, [
    ['a', [0, 1]],
    ['b', [0]],
  ]);
  const msg = (topic: string, partition: number, offset: number): InMessage => ({ topic, partition, offset, key: '', value: Buffer.alloc(0), headers: {} });
  assert.deepEqual(
    floors.filter([msg('a', 1, 4), msg('a', 1, 5), msg('a', 1, 6)]).map((x) => x.offset),
    [5, 6],
  );
  assert.equal(floors.filter([msg('a', 0, 0)]).length, 1);
  assert.equal(floors.filter([msg('b', 0, 0)]).length, 1);
});

test('isRebalanceError finds the group errors however the clients wrap them', () => {
  assert.equal(isRebalanceError({ type: 'REBALANCE_IN_PROGRESS' }), true);
  assert.equal(isRebalanceError(Object.assign(new Error('x'), { errors: [{ apiId: 'ILLEGAL_GENERATION' }] })), true);
  assert.equal(isRebalanceError(new Error('x', { cause: { needsRejoin: true } })), true);
  assert.equal(isRebalanceError({ type: 'TOPIC_AUTHORIZATION_FAILED' }), false);
  assert.equal(isRebalanceError(new Error('boom')), false);
});
