import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '@tollgate/log';
import { openStore } from './store.ts';
import { AgentPositions, loadAgentPositions, RESEND_WINDOW } from './resends.ts';
import { flowRow } from './testing.ts';

const dataDir = mkdtempSync(join(tmpdir(), 'tollgate-resends-'));
after(() => rmSync(dataDir, { recursive: true, force: true }));

test('a batch sent again (same agent and seq) is a copy; new agents, new seqs, and seqs arriving out of order pass', () => {
  const p = new AgentPositions();
  const seen = [['a', 1], ['a', 2], ['b', 1], ['a', 2], ['a', 5], ['a', 1], ['b', 1], ['a', 3], ['a', 4], ['a', 3], ['', 0], ['', 0]] as const;
  assert.deepEqual(
    seen.map(([a, s]) => p.resend(a, s)),
    [false, false, false, true, false, true, true, false, false, true, false, false],
  );
  const d = p.draft();
  assert.equal(d.resend('a', 9), false);
  assert.equal(d.resend('a', 9), true, 'a draft sees what it passed');
  assert.equal(d.resend('a', 5), true, 'and what its base holds');
  assert.equal(p.isResend('a', 9), false, 'a draft advances alone');
  p.absorb(d.added);
  assert.equal(p.isResend('a', 9), true, 'until it is absorbed');
});

test('seqs more than RESEND_WINDOW below the highest one are copies; the window slides without changing a decision', () => {
  const p = new AgentPositions();
  const top = 3 * RESEND_WINDOW;
  for (let s = 0; s <= top; s += 2) assert.equal(p.resend('a', s), false);
  // An odd seq inside the window was never stored: it passes; one below the window is a copy.
  assert.equal(p.isResend('a', top - 1), false);
  assert.equal(p.isResend('a', top - RESEND_WINDOW + 1), false);
  assert.equal(p.isResend('a', top - RESEND_WINDOW), true);
  assert.equal(p.isResend('a', 1), true);
  assert.equal(p.isResend('a', top - 2), true);
});

test('positions rebuilt from the stored rows before an offset repeat the first decisions', async () => {
  const store = await openStore({ url: '', user: 'default', password: '', database: 'resends', dataDir }, createLogger('silent'));
  try {
    await store.migrate();
    // Partition 0 holds a:1..3 at offsets 10..12, b:7 at 13 and a:6 at 14 (4 and 5 not yet: they
    // come later, out of order); partition 1 holds a:50.
    const rows = [
      flowRow({ src_topic: 't', src_partition: 0, src_offset: 10, src_agent_id: 'a', src_seq: 1 }),
      flowRow({ src_topic: 't', src_partition: 0, src_offset: 11, src_agent_id: 'a', src_seq: 2 }),
      flowRow({ src_topic: 't', src_partition: 0, src_offset: 12, src_agent_id: 'a', src_seq: 3 }),
      flowRow({ src_topic: 't', src_partition: 0, src_offset: 13, src_agent_id: 'b', src_seq: 7 }),
      flowRow({ src_topic: 't', src_partition: 0, src_offset: 14, src_agent_id: 'a', src_seq: 6 }),
      flowRow({ src_topic: 't', src_partition: 1, src_offset: 10, src_agent_id: 'a', src_seq: 50 }),
    ];
    await store.insertFlows(rows);
    // Resuming at offset 12 (an interrupted chunk from 12 on): only what precedes it counts.
    const at12 = await loadAgentPositions(store, 't', 0, 12);
    assert.equal(at12.size, 1);
    assert.equal(at12.resend('a', 2), true);
    assert.equal(at12.resend('a', 3), false, 'the re-read of offset 12 passes again');
    assert.equal(at12.resend('b', 7), false);
    const all = await loadAgentPositions(store, 't', 0, Number.MAX_SAFE_INTEGER);
    assert.equal(all.resend('a', 3), true);
    assert.equal(all.resend('b', 7), true);
    assert.equal(all.resend('a', 6), true);
    assert.equal(all.resend('a', 4), false, 'a seq below the highest one, never stored, passes');
    assert.equal(all.resend('a', 50), false, 'partition 1 does not leak into partition 0');
  } finally {
    await store.close();
  }
});

test('positions merged with what the same sink passed before a re-assignment hold both', () => {
  const fromRows = new AgentPositions([['a', 3], ['b', 9]]);
  const passed = new AgentPositions([['a', 5], ['c', 1]]);
  const m = fromRows.merged(passed);
  assert.deepEqual([m.isResend('a', 5), m.isResend('a', 3), m.isResend('a', 4), m.isResend('b', 9), m.isResend('c', 1), m.isResend('c', 2)], [true, true, false, true, true, false]);
  assert.equal(fromRows.isResend('a', 5), false, 'merged() leaves its operands alone');
  assert.equal(fromRows.merged(undefined).size, 2);
});
