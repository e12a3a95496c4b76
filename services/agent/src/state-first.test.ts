// The agent's identity is on disk before its first batch is sent: an agent SIGKILLed before any
// acknowledgement (a broker slow to answer at start) restarts under the same agent_id and sends
// its first batches again under the same (agent_id, seq), which the sink drops as second copies.
// (Found by the chaos run: a restarted agent had a new agent_id and its seq 0 was stored twice.)
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { createLogger } from '@tollgate/log';
import { SchemaRegistry } from '@tollgate/schema';
import { createAgent } from './agent.ts';
import type { AgentOutput } from './buffer.ts';
import { readState } from './state.ts';

test('the state file holds the agent_id from the start, before any acknowledgement', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-agent-first-'));
  try {
    const statePath = join(dir, 'agent.json');
    // An output that never acknowledges (the broker does not answer).
    const output: AgentOutput = { kind: 'custom', deliver: () => new Promise<void>(() => {}) };
    const deps = { source: { kind: 'replay' as const, ticks: [] }, output, cluster: 'c', node: 'n1', batchMaxFlows: 10, registry: SchemaRegistry.load(), logger: createLogger('silent'), statePath };
    const first = createAgent(deps);
    assert.equal(readState(statePath)?.agentId, first.stats().agentId, 'written before anything was sent');
    assert.equal(readState(statePath)?.ackedSeq, -1);
    assert.equal(createAgent(deps).stats().agentId, first.stats().agentId, 'a restart keeps it');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
