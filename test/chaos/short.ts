// The short chaos run, `npm run chaos:short` (the long one is `npm run chaos`); not in `npm test`
// until the open defects below are found (README, Limits). A smaller scenario,
// fewer kills and a shorter broker outage, same driver and the same exactness check
// (test/chaos/chaos.ts): both enrichers and the sink are SIGKILLed at seeded random moments and
// restarted, the broker stops once, and flows, the rollups and the cost view must equal the
// scenario's ground truth per workload and class. The agent is not killed here: one run that killed
// it mid-replay stored 33 flows too few (README, Limits; open), so its kills stay in `npm run
// chaos` and the agent's own SIGKILL test (services/agent/src/restart.test.ts). Another run of
// this one (seed 11) stored flows exactly but fed the hourly rollup more than once (open).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runChaos } from './chaos.ts';

test('chaos (short): SIGKILLs of the two enrichers and the sink, and a broker outage; flows, rollups and costs equal the truth', { timeout: 900_000 }, async () => {
  const seed = Number(process.env.TOLLGATE_CHAOS_SEED ?? 11);
  const r = await runChaos({
    seed,
    kills: 10,
    scale: 2,
    days: 8,
    outageS: 12,
    stages: ['enricher', 'sink'],
    port: 0,
    gapMs: [800, 2_500],
    log: (l) => console.log(l),
  });
  assert.ok(r.flows > 50_000, `${r.flows} flows stored`);
  assert.ok(r.kills.length >= 5, `${r.kills.length} kills happened`);
  for (const stage of ['enricher', 'sink']) assert.ok(r.kills.some((k) => k.includes(`SIGKILL ${stage}`)), `seed ${seed}: no kill of the ${stage} (${r.kills.join('; ')})`);
  assert.deepEqual(r.mismatches, [], `seed ${seed}: stored totals differ from the truth`);
});
