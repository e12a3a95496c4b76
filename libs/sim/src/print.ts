// Prints a scenario's ground truth and numbers:
//   npx node libs/sim/src/print.ts [--seed 1] [--days 8] [--scale 1] [--start 2025-01-06T00:00:00Z]
import { parseArgs } from 'node:util';
import { createScenario } from './scenario.ts';

const { values } = parseArgs({
  options: { seed: { type: 'string', default: '1' }, days: { type: 'string', default: '8' }, scale: { type: 'string', default: '1' }, start: { type: 'string', default: '2025-01-06T00:00:00Z' } },
});
const s = createScenario({ seed: Number(values.seed), days: Number(values.days), scale: Number(values.scale), start: Date.parse(values.start) });
let t = performance.now();
let entries = 0;
let destroys = 0;
for (const n of s.nodes) {
  for (const tick of s.ticks(n)) {
    entries += tick.dump.length;
    destroys += tick.destroyed.length;
  }
}
const ms = performance.now() - t;
t = performance.now();
const truth = s.truth();
console.log(JSON.stringify({ seed: s.seed, days: s.days, scale: s.scale, start: new Date(s.start).toISOString(), end: new Date(s.end).toISOString(), nodes: s.nodes, inventoryEvents: s.inventory.length }));
console.log(`ticks: ${entries} dump entries + ${destroys} DESTROY events in ${ms.toFixed(0)} ms (${Math.round(((entries + destroys) / ms) * 1000)} records/s); truth in ${(performance.now() - t).toFixed(0)} ms`);
console.table(truth);
console.log('per node:', Object.fromEntries(s.truthByNode()));
console.log('expected anomalies:', s.expectedAnomalies.map((a) => ({ ...a, since: new Date(a.since).toISOString() })));
