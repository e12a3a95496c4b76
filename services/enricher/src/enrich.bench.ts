// enrichBatch throughput on a synthetic cluster of realistic size (20k pods, 15k ReplicaSets,
// 100 nodes, 5k external addresses). Run: npx node --expose-gc services/enricher/src/enrich.bench.ts
import { fileURLToPath } from 'node:url';
import type { RawFlow } from '@tollgate/schema';
import { Classifier } from './classifier.ts';
import { enrichBatch, newCounters } from './enrich.ts';
import { openGeoIp } from './geoip.ts';
import { OwnerIndex } from './owner-index.ts';
import { buildRangeTrie, parseAwsRanges } from './ranges.ts';
import { added, batch, flow, node, pod, workload } from './testkit.ts';

const GEO = fileURLToPath(new URL('../../../test/fixtures/geoip/', import.meta.url));
const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});
gc();
const heap0 = process.memoryUsage().heapUsed;
const index = new OwnerIndex({ podGraceMs: 300_000 });
const NODES = 100;
for (let n = 0; n < NODES; n++) index.apply(added(node(`n${n}`, `10.0.${n}.10`, `us-east-1${'abc'[n % 3]}`, 'us-east-1')));
const podIps: string[] = [];
const podNode: string[] = [];
for (let d = 0; d < 5_000; d++) {
  const dep = workload('Deployment', `dep-${d}`, `ns-${d % 50}`);
  index.apply(added(dep));
  for (let r = 0; r < 3; r++) {
    const rs = workload('ReplicaSet', `dep-${d}-${r}`, `ns-${d % 50}`, dep);
    index.apply(added(rs));
    if (r !== 2) continue;
    for (let p = 0; p < 4; p++) {
      const i = podIps.length;
      const n = i % NODES;
      const ip = `10.${64 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`;
      index.apply(added(pod(`dep-${d}-${r}-${p}`, `ns-${d % 50}`, `n${n}`, ip, { owner: rs }), 1));
      podIps.push(ip);
      podNode.push(`n${n}`);
    }
  }
}
gc();
const heapIndex = process.memoryUsage().heapUsed - heap0; // with --expose-gc: what the index keeps
const prefixes = Array.from({ length: 8_000 }, (_, i) => ({ ip_prefix: `${3 + (i >> 8)}.${i & 255}.0.0/16`, region: 'us-east-1', service: i % 2 ? 'S3' : 'AMAZON' }));
const classifier = new Classifier({ geoip: openGeoIp({ countryDb: `${GEO}GeoIP2-Country-Test.mmdb`, asnDb: `${GEO}GeoLite2-ASN-Test.mmdb` }), cloud: buildRangeTrie(parseAwsRanges({ prefixes })) });
const ctx = { index, classifier, cloud: '', natGateway: true };

// 200 batches of 500 flows for node n7: 40% pod-to-pod via a ClusterIP, 40% internet, 20% cloud.
let seed = 42;
const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) % n);
const local = podIps.map((ip, i) => [ip, podNode[i]] as const).filter(([, n]) => n === 'n7').map(([ip]) => ip);
const batches = Array.from({ length: 200 }, () => {
  const flows: RawFlow[] = [];
  for (let k = 0; k < 500; k++) {
    const src = local[rnd(local.length)]!;
    const x = rnd(10);
    if (x < 4) flows.push(flow({ src, dst: '172.20.0.10', dport: 80, responder: podIps[rnd(podIps.length)]!, rport: 8080, orig: 1 + rnd(10_000), reply: 1 + rnd(100_000) }));
    else if (x < 8) flows.push(flow({ src, dst: `89.160.${rnd(40)}.${rnd(256)}`, dport: 443, orig: 1 + rnd(10_000), reply: 1 + rnd(100_000) }));
    else flows.push(flow({ src, dst: `${3 + rnd(31)}.${rnd(256)}.1.2`, dport: 443, orig: 1 + rnd(10_000), reply: 1 + rnd(100_000) }));
  }
  return batch('n7', flows, 10_000, 20_000);
});
const c = newCounters();
for (const b of batches.slice(0, 20)) enrichBatch(b, { agent_id: 'a', seq: 0, topic: 't', partition: 0, offset: 0 }, ctx, c); // warm up
let flows = 0;
const t0 = process.hrtime.bigint();
for (let rep = 0; rep < 5; rep++) for (const b of batches) flows += b.flows.length + 0 * enrichBatch(b, { agent_id: 'a', seq: 0, topic: 't', partition: 0, offset: 0 }, ctx, c).flows.length;
const s = Number(process.hrtime.bigint() - t0) / 1e9;
console.log(JSON.stringify({ pods: podIps.length, replicaSets: 15_000, indexHeapMB: Math.round(heapIndex / 1e6), flows, seconds: +s.toFixed(3), flowsPerSecond: Math.round(flows / s), records: c.records, unattributed: c.unattributed }));
