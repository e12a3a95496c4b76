// End to end with TOLLGATE_K8S_SOURCE=kube: the enricher reads the simulated cluster from a real
// kube-apiserver with etcd (test/support/kube-sim.ts loaded its whole run there: owner chains,
// IPs, node zones and pod CIDRs, Services, hostNetwork pods, the pods that ended as finished
// pods, creation times of the run), as the identity of infra/k8s/enricher-rbac.yaml's
// ClusterRole, through KUBECONFIG. The agent, Kafka, the sink and chDB are the same real parts as
// in test/e2e.test.ts, and what comes out must equal the same ground truth exactly.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { createLogger } from '@tollgate/log';
import { createKafkaTransport } from '@tollgate/kafka';
import { clusterUnavailable, REPO_ROOT, type TestCluster } from '@tollgate/kube/testkit';
import { createScenario, DAY } from '@tollgate/sim';
import { allTopics, dlqTopic, topicNames } from '@tollgate/pipeline';
import { freePort, startTollgate as start, type Proc } from './support/processes.ts';
import { assertStoredTruth, BROKERS, drained, endRun, scrape, stageEnv, sum } from './support/e2e.ts';
import { loadSimCluster, startSimCluster } from './support/kube-sim.ts';

const why = clusterUnavailable(process.env);
if (why && process.env.CI === 'true') throw new Error(`CI provides a real kube-apiserver (.ci/setup.d/30-kube.sh), but: ${why}`);
const skip = why ? `no real kube-apiserver here (${why}): the end-to-end test with TOLLGATE_K8S_SOURCE=kube cannot run` : false;

let cluster: TestCluster | undefined;
after(() => cluster?.stop());

/** The enricher's ClusterRole as shipped, bound to the apiserver's `tollgate-enricher` user (its kubeconfig). */
async function grantEnricherRole(c: TestCluster): Promise<void> {
  const docs = parseAllDocuments(readFileSync(join(REPO_ROOT, 'infra/k8s/enricher-rbac.yaml'), 'utf8')).map((d) => d.toJS() as { kind: string; metadata: { name: string } });
  const role = docs.find((d) => d.kind === 'ClusterRole')!;
  await c.admin.request('POST', '/apis/rbac.authorization.k8s.io/v1/clusterroles', role);
  await c.admin.request('POST', '/apis/rbac.authorization.k8s.io/v1/clusterrolebindings', {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRoleBinding',
    metadata: { name: 'tollgate-enricher-user' },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: role.metadata.name },
    subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: 'tollgate-enricher' }],
  });
}

test('agent -> Kafka -> enricher (kube source, real apiserver) -> Kafka -> sink -> chDB: the ground truth exactly', { skip, timeout: 300_000 }, async (t) => {
  const prefix = `e2e-kube-${process.pid}-${Date.now()}`;
  const topics = topicNames(prefix);
  const dataDir = mkdtempSync(join(tmpdir(), 'tollgate-e2e-kube-'));
  const scenario = createScenario({ seed: 7, days: 8, scale: 1, start: Math.floor(Date.now() / DAY) * DAY - 8 * DAY });
  const t0 = Date.now();
  cluster = startSimCluster(process.env);
  const load = await loadSimCluster(cluster, scenario.inventory);
  await grantEnricherRole(cluster);
  const loadedMs = Date.now() - t0;
  const env: NodeJS.ProcessEnv = {
    ...stageEnv({ prefix, dataDir, scenario }),
    // The enricher gets the scenario's classification settings explicitly (with `sim` they come with it).
    ...scenario.enricherEnv,
    TOLLGATE_K8S_SOURCE: 'kube',
    KUBECONFIG: cluster.kubeconfig('enricher'),
  };
  const logger = createLogger('warn');
  const kafka = await createKafkaTransport({ brokers: [BROKERS], client: 'platformatic', clientId: 'e2e-kube-test', logger });
  const procs: Proc[] = [];
  try {
    await kafka.ensureTopics(allTopics(topics), 3);
    const sink = start('sink', 'sink', env);
    const metricsPort = await freePort();
    const enricher = start('enricher', 'enricher', { ...env, TOLLGATE_METRICS_PORT: String(metricsPort), TOLLGATE_METRICS_HOST: '127.0.0.1' });
    const agent = start('agent', 'agent', env);
    procs.push(sink, enricher, agent);
    assert.equal(await agent.exited, 0, `agent exit code\n${agent.log.join('')}`);
    await drained(kafka, prefix, topics, procs);

    const metric = await scrape(metricsPort);
    const stage = { stage: 'enricher' };
    assert.equal(metric('tollgate_enricher_kube_synced'), 1, 'the kube inventory synced');
    const read = ['Pod', 'Node', 'Service', 'ReplicaSet', 'Job'].reduce((n, k) => n + (load.created[k] ?? 0), 0);
    assert.ok((metric('tollgate_enricher_kube_events_total') ?? 0) >= read, `the ${read} loaded objects of the kinds it reads were listed`);
    assert.equal(metric('tollgate_messages_in_total', stage), sum(await kafka.endOffsets(topics.raw)), 'enricher messages in = raw topic messages');
    assert.equal(metric('tollgate_enricher_unresolved_records_total') ?? 0, 0, 'every local side is an object the apiserver served');
    const recordsOut = metric('tollgate_records_out_total', stage);

    for (const p of [sink, enricher]) p.child.kill('SIGTERM');
    assert.equal(await sink.exited, 0, `sink exit code\n${sink.log.join('')}`);
    assert.equal(await enricher.exited, 0, `enricher exit code\n${enricher.log.join('')}`);
    assert.equal(sum(await kafka.endOffsets(dlqTopic(topics.raw))) + sum(await kafka.endOffsets(dlqTopic(topics.enriched))), 0, 'nothing dead-lettered');

    const figures = await assertStoredTruth(dataDir, scenario, recordsOut, logger);
    t.diagnostic(`loaded ${JSON.stringify(load.created)} (${load.finishedPods} finished pods) in ${loadedMs} ms; compared ${JSON.stringify(figures)}`);
  } finally {
    await endRun(procs, kafka, dataDir);
  }
});
