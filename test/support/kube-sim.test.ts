// loadSimCluster on a real kube-apiserver: what the apiserver then serves, read back through
// the enricher's own kube source into its owner index, answers every lookup of the run as the
// simulated cluster's pods say (each pod's IP from its creation until it ended, then the next
// holder's), the same as the sim's inventory fed directly.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createLogger } from '@tollgate/log';
import { clusterUnavailable, type TestCluster } from '@tollgate/kube/testkit';
import { kubeSource, OwnerIndex, eventsSource, type Target } from '@tollgate/enricher';
import { createScenario, DAY, HOUR, type SimPod } from '@tollgate/sim';
import { loadSimCluster, startSimCluster } from './kube-sim.ts';

const why = clusterUnavailable(process.env);
if (why && process.env.CI === 'true') throw new Error(`CI provides a real kube-apiserver (.ci/setup.d/30-kube.sh), but: ${why}`);
const skip = why ? `no real kube-apiserver here (${why})` : false;

const GRACE = 300_000;
let cluster: TestCluster | undefined;
after(() => cluster?.stop());

const TCP = 6;
const name = (index: OwnerIndex, tg: Target | undefined) => {
  if (tg === undefined) return '-';
  const i = index.info(tg);
  return `${i.kind} ${i.namespace}/${i.workload_kind}/${i.workload} ${i.pod} ${i.zone}`;
};
/** What the sim says holds a pod IP at t: the pod created last whose [created, ended + grace) covers t. */
function holderAt(pods: SimPod[], ip: string, t: number): SimPod | undefined {
  let best: SimPod | undefined;
  for (const p of pods) {
    const end = (p.finished ?? p.deleted) + GRACE;
    if (!p.hostNetwork && p.ip === ip && p.created <= t && t < end && (!best || p.created > best.created)) best = p;
  }
  return best;
}

test('the simulated cluster loaded into a real apiserver: objects, creation times, and every pod IP over the run as the sim says', { skip, timeout: 120_000 }, async () => {
  const start = Math.floor(Date.now() / DAY) * DAY - 8 * DAY;
  const scenario = createScenario({ seed: 7, days: 8, scale: 1, start });
  cluster = startSimCluster(process.env);
  const load = await loadSimCluster(cluster, scenario.inventory);

  // What the apiserver holds: every pod of the run, the ended ones finished, at their sim creation times.
  const ended = scenario.pods.filter((p) => p.deleted !== Infinity || p.finished !== undefined);
  assert.equal(load.created.Pod, scenario.pods.length);
  assert.equal(load.finishedPods, ended.length);
  assert.deepEqual([load.created.Node, load.created.Service], [scenario.nodes.length, 8]);
  const pods = await cluster.admin.request<{ items: Array<{ metadata: { namespace: string; name: string; creationTimestamp: string }; status: { phase: string; podIP: string } }> }>('GET', '/api/v1/pods');
  const served = new Map(pods.items.map((p) => [`${p.metadata.namespace}/${p.metadata.name}`, p]));
  assert.equal(served.size, scenario.pods.length);
  for (const p of scenario.pods) {
    const s = served.get(`${p.namespace}/${p.name}`)!;
    assert.ok(s, `${p.name} served`);
    assert.deepEqual([Date.parse(s.metadata.creationTimestamp), s.status.podIP, s.status.phase], [p.created, p.ip, ended.includes(p) ? 'Succeeded' : 'Running'], p.name);
  }

  // The enricher's read path: the kube source (list + watch) into the owner index.
  const logger = createLogger('silent');
  const viaApi = new OwnerIndex({ podGraceMs: GRACE });
  const source = kubeSource({ client: cluster.admin, logger });
  await source.start((e) => viaApi.apply(e));
  await source.stop();
  const viaSim = new OwnerIndex({ podGraceMs: GRACE });
  await eventsSource(scenario.inventory).start((e) => viaSim.apply(e));

  // Every pod, at its first and last second and past its end: the sim's holder of the IP.
  let checked = 0;
  for (const p of scenario.pods) {
    const end = p.finished ?? p.deleted;
    const times = [p.created + 1_000, Math.min(end, scenario.end) - 1_000, ...(end === Infinity ? [] : [end + GRACE + 1_000])];
    for (const t of times) {
      const got = p.hostNetwork ? viaApi.hostPortPod(p.node.name, p.hostPorts[0]!, TCP, t) : viaApi.lookupIp(p.ip, t);
      const want = p.hostNetwork ? (t < end + GRACE ? p : undefined) : holderAt(scenario.pods, p.ip, t);
      assert.equal(name(viaApi, got), want ? `POD ${want.namespace}/${want.kind}/${want.workload} ${want.name} ${want.node.zone}` : '-', `${p.name} (${p.ip}) at ${new Date(t).toISOString()}`);
      checked++;
    }
  }
  // And the same answers as the sim's inventory fed directly, for every address hourly over the run.
  const addresses = new Set([...scenario.pods.map((p) => p.ip), ...scenario.nodeInfo.map((n) => n.ip), '10.96.0.1', '10.96.10.20', '10.96.30.10']);
  for (let t = start - DAY; t <= scenario.end; t += HOUR) {
    for (const ip of addresses) assert.equal(name(viaApi, viaApi.lookupIp(ip, t)), name(viaSim, viaSim.lookupIp(ip, t)), `${ip} at ${new Date(t).toISOString()}`);
  }
  assert.ok(checked >= 2 * scenario.pods.length, `${checked} lookups`);
  // The same objects indexed, but owners: the kube source reads only the intermediate ones (ReplicaSets, Jobs).
  const intermediate = new Set(scenario.inventory.filter((e) => e.object.kind === 'ReplicaSet' || e.object.kind === 'Job').map((e) => e.object.metadata.uid));
  assert.deepEqual(viaApi.size(), { ...viaSim.size(), owners: intermediate.size });
});
