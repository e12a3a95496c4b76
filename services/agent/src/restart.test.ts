// A replaying agent SIGKILLed mid-run and restarted with its state file: what the two processes
// printed (stdout output: a batch is acknowledged once written to the pipe) sums exactly to the
// scenario's truth, so nothing acknowledged was sent twice and nothing was skipped.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createScenario } from '@tollgate/sim';

const BIN = fileURLToPath(new URL('../../../bin/tollgate.mjs', import.meta.url));
const START = '2025-01-06T00:00:00Z';

function run(env: Record<string, string>, killAfterBytes?: number): Promise<{ out: string; code: number | null; signal: string | null }> {
  const c = spawn(process.execPath, [BIN, 'agent', '--output', 'stdout'], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'ignore'] });
  let out = '';
  c.stdout.on('data', (d: Buffer) => {
    out += d.toString();
    if (killAfterBytes !== undefined && out.length >= killAfterBytes) c.kill('SIGKILL');
  });
  return once(c, 'close').then(([code, signal]) => ({ out, code: code as number | null, signal: signal as string | null }));
}

describe('agent state across SIGKILL (replay source)', () => {
  it('a killed and restarted agent resumes after its last acknowledged batch: kept once per (agent_id, seq), every byte of the scenario exactly once', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tollgate-agent-state-'));
    try {
      const scenario = createScenario({ seed: 5, days: 2, scale: 2, start: Date.parse(START) });
      const node = scenario.nodes[1]!;
      const env = { TOLLGATE_AGENT_SOURCE: 'sim', TOLLGATE_NODE_NAME: node, TOLLGATE_SIM_SEED: '5', TOLLGATE_SIM_DAYS: '2', TOLLGATE_SIM_SCALE: '2', TOLLGATE_SIM_START: START, TOLLGATE_AGENT_STATE_DIR: dir, TOLLGATE_METRICS_PORT: '0', TOLLGATE_BATCH_MAX_FLOWS: '20' };
      const first = await run(env, 40_000);
      assert.equal(first.signal, 'SIGKILL', 'killed mid-run');
      const second = await run(env);
      assert.equal(second.code, 0);
      type Line = { orig_bytes: number; reply_bytes: number; agent_id: string; seq: number };
      const parse = (text: string) => text.split('\n').filter((l) => l.endsWith('}')).map((l) => JSON.parse(l) as Line); // a line cut by the kill is dropped
      const a = parse(first.out);
      const b = parse(second.out);
      assert.ok(a.length > 0 && b.length > 0);
      assert.equal(new Set([...a, ...b].map((l) => l.agent_id)).size, 1, 'the restarted agent keeps its agent_id');
      // Batches written but not acknowledged when the kill came are sent again, identical, under
      // the same (agent_id, seq): a consumer keeps one. Acknowledged ones are not sent again.
      const lastA = Math.max(...a.map((l) => l.seq));
      const firstB = Math.min(...b.map((l) => l.seq));
      assert.ok(firstB > 0 && firstB <= lastA + 1, `resumed at seq ${firstB} after ${lastA}`);
      assert.ok(lastA - firstB < 64, 'only the batches in flight (one delivery) are sent again');
      const bySeq = new Map<number, string>();
      for (const l of b) bySeq.set(l.seq, (bySeq.get(l.seq) ?? '') + JSON.stringify(l));
      const kept = [...a.filter((l) => l.seq < firstB), ...b];
      const aOverlap = new Map<number, string>();
      for (const l of a.filter((x) => x.seq >= firstB)) aOverlap.set(l.seq, (aOverlap.get(l.seq) ?? '') + JSON.stringify(l));
      for (const [seq, text] of aOverlap) assert.ok(bySeq.get(seq)!.startsWith(text), `seq ${seq} cut the same again`);
      const seqs = [...new Set(kept.map((l) => l.seq))].sort((x, y) => x - y);
      assert.deepEqual(seqs, seqs.map((_, i) => i), 'no batch skipped');
      const truth = scenario.truthByNode().get(node)!;
      assert.equal(kept.reduce((s, l) => s + l.orig_bytes, 0), truth.origBytes);
      assert.equal(kept.reduce((s, l) => s + l.reply_bytes, 0), truth.replyBytes);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
