// The short chaos run, part of `npm test` (and `npm run chaos:short`; the long one is `npm run
// chaos`). A smaller scenario, fewer kills and a shorter broker outage, same driver and the same
// exactness check (test/chaos/chaos.ts): the agent, both enrichers and the sink are SIGKILLed at
// seeded random moments and restarted, the broker stops once, and flows, the rollups and the cost
// view must equal the scenario's ground truth per workload and class. TOLLGATE_CHAOS_SEED picks
// the seed (the driver prints it and every kill: a failure replays with the same seed).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runChaos } from './chaos.ts';

test('chaos (short): SIGKILLs of the agent, the two enrichers and the sink, and a broker outage; flows, rollups and costs equal the truth', { timeout: 900_000 }, async () => {
  const seed = Number(process.env.TOLLGATE_CHAOS_SEED ?? 11);
  const r = await runChaos({
    seed,
    kills: 10,
    scale: 2,
    days: 8,
    outageS: 12,
    stages: ['agent', 'enricher', 'sink'],
    port: 0,
    gapMs: [800, 2_500],
    log: (l) => console.log(l),
  });
  assert.ok(r.flows > 50_000, `${r.flows} flows stored`);
  assert.ok(r.kills.length >= 5, `${r.kills.length} kills happened`);
  for (const stage of ['agent', 'enricher', 'sink']) assert.ok(r.kills.some((k) => k.includes(`SIGKILL ${stage}`)), `seed ${seed}: no kill of the ${stage} (${r.kills.join('; ')})`);
  assert.deepEqual(r.mismatches, [], `seed ${seed}: stored totals differ from the truth`);
});
