import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Lifecycle, RunState, once, type Component } from './component.ts';

test('RunState settles once: the first of finish and fail wins', async () => {
  const a = new RunState();
  a.fail(new Error('boom'));
  a.finish();
  a.fail(new Error('later'));
  await assert.rejects(a.done, /boom/);
  assert.equal(a.state, 'failed');
  const b = new RunState();
  b.finish();
  b.fail(new Error('ignored'));
  await b.done;
  assert.equal(b.state, 'finished');
  assert.equal(b.error, undefined);
});

test('Lifecycle starts in order, stops in reverse once, and reports every stop failure', async () => {
  const events: string[] = [];
  const comp = (name: string, failStop = false): Component => ({
    name,
    start: async () => void events.push(`start ${name}`),
    stop: once(async () => {
      events.push(`stop ${name}`);
      if (failStop) throw new Error(`${name} stop failed`);
    }),
  });
  const life = new Lifecycle();
  await life.start([comp('sink'), comp('enricher', true), comp('agent')]);
  const first = life.stop();
  assert.equal(life.stop(), first);
  await assert.rejects(first, (err: unknown) => err instanceof AggregateError && err.errors.length === 1);
  assert.deepEqual(events, ['start sink', 'start enricher', 'start agent', 'stop agent', 'stop enricher', 'stop sink']);
});
