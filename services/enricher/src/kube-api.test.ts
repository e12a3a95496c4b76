// The enricher's Kubernetes inventory against a real kube-apiserver with etcd (infra/kube/kube.sh;
// built once by .ci/setup.d/30-kube.sh). No controllers run there, so the tests write what
// controllers would: owner chains by ownerReferences, pod IPs and phases by the status subresource.
// Expected values come from the objects the tests create and the GeoIP fixtures' JSON sources.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createLogger } from '@tollgate/log';
import { viewEnriched, type RawFlow } from '@tollgate/schema';
import { ConfigError } from '@tollgate/config';
import { KubeApiError, KubeClient, KubeconfigError, loadKubeconfig, resourcePath } from '@tollgate/kube';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { clusterUnavailable, ObjectWriter, startTestCluster, type Created, type TestCluster } from '@tollgate/kube/testkit';
import { Classifier } from './classifier.ts';
import { enrichBatch, newCounters, type EnrichContext } from './enrich.ts';
import { openGeoIp } from './geoip.ts';
import { KUBE_RESOURCES, kubeSource } from './kube-source.ts';
import { OwnerIndex } from './owner-index.ts';
import { batch, flow, SOURCE } from './testkit.ts';

const why = clusterUnavailable(process.env);
if (why && process.env.CI === 'true') throw new Error(`CI provides a real kube-apiserver (.ci/setup.d/30-kube.sh), but: ${why}`);
const skip = why ? `no real kube-apiserver here (${why})` : false;

const logger = createLogger('silent');
const GEO = fileURLToPath(new URL('../../../test/fixtures/geoip/', import.meta.url));
const geoip = openGeoIp({ countryDb: `${GEO}GeoIP2-Country-Test.mmdb`, asnDb: `${GEO}GeoLite2-ASN-Test.mmdb` });

/** The fixture's own answer for an IPv4 address: the longest matching prefix of its JSON source. */
function fixture(file: string, ip: string): Record<string, unknown> | undefined {
  const n = (s: string) => s.split('.').reduce((a, b) => a * 256 + Number(b), 0) >>> 0;
  const prefix = (x: number, bits: number) => (bits === 0 ? 0 : x >>> (32 - bits));
  let best: [number, Record<string, unknown>] | undefined;
  for (const rec of JSON.parse(readFileSync(`${GEO}${file}`, 'utf8')) as Array<Record<string, Record<string, unknown>>>) {
    const [cidr, v] = Object.entries(rec)[0]!;
    const parts = cidr.split('/') as [string, string];
    let base = parts[0];
    let bits = Number(parts[1]);
    if (base.startsWith('::') && base.includes('.')) [base, bits] = [base.slice(2), bits - 96]; // IPv4 in IPv6 notation
    if (base.includes(':')) continue;
    if (prefix(n(ip), bits) === prefix(n(base), bits) && (!best || bits > best[0])) best = [bits, v!];
  }
  return best?.[1];
}
const countryOf = (ip: string) => ((fixture('GeoIP2-Country-Test.json', ip)?.country as { iso_code?: string } | undefined)?.iso_code ?? '');
const asnOf = (ip: string) => (fixture('GeoLite2-ASN-Test.json', ip)?.autonomous_system_number as number | undefined) ?? 0;

let shared: TestCluster | undefined;
const cluster = () => (shared ??= startTestCluster({ env: process.env }));
const cleanups: Array<() => Promise<void>> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => {});
});

/** Unique names and addresses per run: the shared apiserver keeps what earlier runs left. */
function runIds() {
  const r = randomBytes(2);
  const id = r.toString('hex');
  const o = (r[0]! % 200) + 20; // second octet of the run's pod CIDRs
  const svcOctet = r[1]!;
  return { id, o, svcOctet };
}

async function until(what: string, cond: () => boolean, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function track(w: ObjectWriter, o: Created): Created {
  cleanups.push(() => w.deleteQuietly(o.kind, o.namespace, o.name));
  return o;
}

test('a flow from a pod of each owner kind comes out with the right workload, zone, class, service, labels, country and ASN', { skip, timeout: 120_000 }, async () => {
  const c = cluster();
  const w = new ObjectWriter(c.admin);
  const { id, o, svcOctet } = runIds();
  const shop = `shop-${id}`;
  const ops = `ops-${id}`;
  track(w, await w.namespace(shop, { team: 'shop-team', 'cost-center': 'cc-100' }));
  track(w, await w.namespace(ops, { team: 'ops-team' }));
  const [n1, n2, n3] = [`${id}-n1`, `${id}-n2`, `${id}-n3`];
  const ip = (node: number, host: number) => `10.${o}.${node}.${host}`;
  const nodeIp = (node: number) => `172.${16 + (o % 16)}.${node}.${svcOctet}`;
  track(w, await w.node(n1, { zone: 'us-east-1a', region: 'us-east-1', ip: nodeIp(1), podCIDR: `10.${o}.1.0/24`, providerID: `aws:///us-east-1a/i-${id}1` }));
  track(w, await w.node(n2, { zone: 'us-east-1b', region: 'us-east-1', ip: nodeIp(2), podCIDR: `10.${o}.2.0/24`, providerID: `aws:///us-east-1b/i-${id}2` }));
  track(w, await w.node(n3, { zone: 'eu-west-1a', region: 'eu-west-1', ip: nodeIp(3), podCIDR: `10.${o}.3.0/24`, providerID: `aws:///eu-west-1a/i-${id}3` }));
  // Owner chains, as controllers would have built them.
  const webD = track(w, await w.owner('Deployment', shop, 'web'));
  const webRs = track(w, await w.owner('ReplicaSet', shop, 'web-5d9c', webD));
  const apiD = track(w, await w.owner('Deployment', shop, 'api'));
  const apiRs = track(w, await w.owner('ReplicaSet', shop, 'api-77f', apiD));
  const cron = track(w, await w.owner('CronJob', ops, 'backup'));
  const job = track(w, await w.owner('Job', ops, 'backup-28930', cron));
  const sts = track(w, await w.owner('StatefulSet', shop, 'db'));
  const ds = track(w, await w.owner('DaemonSet', ops, 'fluentbit'));
  const exporterDs = track(w, await w.owner('DaemonSet', ops, 'node-exporter'));
  const clusterIP = `10.96.${svcOctet}.10`;
  track(w, await w.service(shop, 'api', clusterIP));
  track(w, await w.pod(shop, 'web-5d9c-abcde', { node: n1, ip: ip(1, 5), owner: webRs, labels: { team: 'web-team', app: 'web' } }));
  track(w, await w.pod(shop, 'api-77f-xyz', { node: n2, ip: ip(2, 7), owner: apiRs }));
  track(w, await w.pod(ops, 'backup-28930-q8x', { node: n1, ip: ip(1, 9), owner: job }));
  track(w, await w.pod(shop, 'db-0', { node: n3, ip: ip(3, 4), owner: sts }));
  track(w, await w.pod(ops, 'fluentbit-k2j', { node: n1, ip: ip(1, 20), owner: ds }));
  track(w, await w.pod(ops, `node-exporter-${id}`, { node: n1, ip: nodeIp(1), owner: exporterDs, hostNetwork: true, hostPorts: [9100] }));
  track(w, await w.pod(shop, 'debug', { node: n2, ip: ip(2, 99) }));

  const index = new OwnerIndex({ podGraceMs: 60_000, chargebackLabels: ['team', 'cost-center'] });
  const source = kubeSource({ client: c.admin, logger });
  await source.start((e) => index.apply(e));
  cleanups.push(() => source.stop());
  assert.ok(source.synced());
  const ctx: EnrichContext = { index, classifier: new Classifier({ geoip }), cloud: '', natGateway: true };

  const now = Date.now();
  const counters = newCounters();
  const run = (node: string, flows: RawFlow[]) => viewEnriched(enrichBatch(batch(node, flows, now, now + 10_000), SOURCE, ctx, counters));
  const INTERNET = '89.160.20.112';
  const TELSTRA = '1.128.0.1';

  // n1: web -> Service api (ClusterIP, DNAT'd to the api pod on n2); backup (CronJob) -> internet;
  // fluentbit (DaemonSet) answers db-0 from eu-west-1; node-exporter (hostNetwork) answers the
  // bare pod on n2 on its host port; the node itself talks to the internet; an unseen pod of n1's CIDR.
  const onN1 = run(n1, [
    flow({ src: ip(1, 5), sport: 41000, dst: clusterIP, dport: 80, responder: ip(2, 7), rport: 8080, orig: 1_000, reply: 50_000 }),
    flow({ src: ip(1, 9), dst: INTERNET, dport: 443, orig: 700, reply: 9_000, replyDst: nodeIp(1) }),
    flow({ src: ip(3, 4), dst: ip(1, 20), dport: 24224, orig: 4_000, reply: 100 }),
    flow({ src: ip(2, 99), dst: nodeIp(1), dport: 9100, orig: 300, reply: 20_000 }),
    flow({ src: nodeIp(1), sport: 5555, dst: TELSTRA, dport: 443, orig: 11, reply: 22 }),
    flow({ src: ip(1, 200), dst: INTERNET, dport: 443, orig: 33, reply: 44 }),
  ]);
  const onN2 = run(n2, [
    flow({ src: ip(1, 5), sport: 41000, dst: ip(2, 7), dport: 8080, orig: 1_000, reply: 50_000 }),
    flow({ src: ip(2, 99), dst: nodeIp(1), dport: 9100, orig: 300, reply: 20_000 }),
  ]);
  const onN3 = run(n3, [flow({ src: ip(3, 4), dst: ip(1, 20), dport: 24224, orig: 4_000, reply: 100 })]);

  const row = (f: (typeof onN1)[number]) => ({
    role: f.role,
    kind: f.local.kind,
    ns: f.local.namespace,
    wk: f.local.workload_kind,
    w: f.local.workload,
    zone: f.local.zone,
    cls: f.class,
    service: f.service,
    labels: { ...f.local.labels },
    remote: `${f.remote.workload_kind}/${f.remote.workload}`,
    country: f.remote.country,
    asn: f.remote.asn,
    eg: f.egress_bytes,
    in: f.ingress_bytes,
    nat: f.nat_gateway,
  });
  const shopLabels = { team: 'shop-team', 'cost-center': 'cc-100' };
  assert.deepEqual(onN1.map(row), [
    { role: 'INITIATOR', kind: 'POD', ns: shop, wk: 'Deployment', w: 'web', zone: 'us-east-1a', cls: 'CROSS_ZONE', service: `${shop}/api`, labels: { team: 'web-team', 'cost-center': 'cc-100' }, remote: 'Deployment/api', country: '', asn: 0, eg: 1_000, in: 50_000, nat: false },
    { role: 'INITIATOR', kind: 'POD', ns: ops, wk: 'CronJob', w: 'backup', zone: 'us-east-1a', cls: 'INTERNET', service: '', labels: { team: 'ops-team' }, remote: '/', country: countryOf(INTERNET), asn: asnOf(INTERNET), eg: 700, in: 9_000, nat: true },
    { role: 'RESPONDER', kind: 'POD', ns: ops, wk: 'DaemonSet', w: 'fluentbit', zone: 'us-east-1a', cls: 'CROSS_REGION', service: '', labels: { team: 'ops-team' }, remote: 'StatefulSet/db', country: '', asn: 0, eg: 100, in: 4_000, nat: false },
    { role: 'RESPONDER', kind: 'POD', ns: ops, wk: 'DaemonSet', w: 'node-exporter', zone: 'us-east-1a', cls: 'CROSS_ZONE', service: '', labels: { team: 'ops-team' }, remote: 'Pod/debug', country: '', asn: 0, eg: 20_000, in: 300, nat: false },
    { role: 'INITIATOR', kind: 'NODE', ns: '', wk: 'Node', w: n1, zone: 'us-east-1a', cls: 'INTERNET', service: '', labels: {}, remote: '/', country: countryOf(TELSTRA), asn: asnOf(TELSTRA), eg: 11, in: 22, nat: true },
    { role: 'INITIATOR', kind: 'POD', ns: '', wk: '', w: '', zone: 'us-east-1a', cls: 'INTERNET', service: '', labels: {}, remote: '/', country: countryOf(INTERNET), asn: asnOf(INTERNET), eg: 33, in: 44, nat: true },
  ]);
  assert.equal(countryOf(INTERNET), 'SE');
  assert.equal(asnOf(TELSTRA), 1221);
  assert.deepEqual(onN2.map(row), [
    { role: 'RESPONDER', kind: 'POD', ns: shop, wk: 'Deployment', w: 'api', zone: 'us-east-1b', cls: 'CROSS_ZONE', service: '', labels: shopLabels, remote: 'Deployment/web', country: '', asn: 0, eg: 50_000, in: 1_000, nat: false },
    { role: 'INITIATOR', kind: 'POD', ns: shop, wk: 'Pod', w: 'debug', zone: 'us-east-1b', cls: 'CROSS_ZONE', service: '', labels: shopLabels, remote: 'DaemonSet/node-exporter', country: '', asn: 0, eg: 300, in: 20_000, nat: false },
  ]);
  assert.deepEqual(onN3.map(row), [
    { role: 'INITIATOR', kind: 'POD', ns: shop, wk: 'StatefulSet', w: 'db', zone: 'eu-west-1a', cls: 'CROSS_REGION', service: '', labels: shopLabels, remote: 'DaemonSet/fluentbit', country: '', asn: 0, eg: 4_000, in: 100, nat: false },
  ]);
  // Who pays: every byte an in-cluster sender sent is some record's egress exactly once.
  const all = [...onN1, ...onN2, ...onN3];
  const sentInCluster = 1_000 + 50_000 + 700 + 4_000 + 100 + 300 + 20_000 + 11 + 33; // internet replies are no one's egress
  assert.equal(all.reduce((s, f) => s + f.egress_bytes, 0), sentInCluster);
  assert.deepEqual([counters.unresolved, counters.unresolvedBytes], [1, 77]);
  assert.equal(onN1[0]!.cloud, 'aws', "the reporting node's providerID");
});

test('pod churn and a reused pod IP on the live watch: old flows stay with the old pod, new flows go to the new one', { skip, timeout: 120_000 }, async () => {
  const c = cluster();
  const w = new ObjectWriter(c.admin);
  const { id, o } = runIds();
  const ns = `churn-${id}`;
  track(w, await w.namespace(ns));
  const node = `${id}-churn`;
  track(w, await w.node(node, { zone: 'z1', region: 'r1', ip: `172.31.${o}.1`, podCIDR: `10.${o}.9.0/24` }));
  const index = new OwnerIndex({ podGraceMs: 2_000 });
  const source = kubeSource({ client: c.admin, logger });
  await source.start((e) => index.apply(e));
  cleanups.push(() => source.stop());
  const reused = `10.${o}.9.50`;
  const holder = (t: number) => {
    const tg = index.lookupIp(reused, t);
    return tg?.type === 'POD' ? tg.name : '';
  };
  const t0 = Date.now();
  track(w, await w.pod(ns, 'old', { node, ip: reused }));
  await until('old pod seen', () => holder(Date.now()) === 'old');
  const tOld = Date.now();
  await w.delete('Pod', ns, 'old');
  await new Promise((r) => setTimeout(r, 300));
  track(w, await w.pod(ns, 'new', { node, ip: reused }));
  await until('new pod seen', () => holder(Date.now()) === 'new');
  const tNew = Date.now();
  assert.equal(holder(tOld), 'old', 'a flow of when the old pod ran stays with it');
  assert.equal(holder(tNew), 'new');
  assert.equal(holder(t0 - 60_000), '', 'before either pod');
  // Churn: 30 pods come and go; the index follows.
  for (let i = 0; i < 30; i++) track(w, await w.pod(ns, `p${i}`, { node, ip: `10.${o}.9.${100 + i}` }));
  await until('30 pods', () => Array.from({ length: 30 }, (_, i) => index.lookupIp(`10.${o}.9.${100 + i}`, Date.now())).every((x) => x?.type === 'POD'));
  for (let i = 0; i < 30; i += 2) await w.delete('Pod', ns, `p${i}`);
  await new Promise((r) => setTimeout(r, 2_500)); // past the 2 s grace
  const alive = Array.from({ length: 30 }, (_, i) => index.lookupIp(`10.${o}.9.${100 + i}`, Date.now()) !== undefined);
  assert.deepEqual(alive, Array.from({ length: 30 }, (_, i) => i % 2 === 1), 'deleted pods leave the index after the grace period');
});

const K8S_DIR = fileURLToPath(new URL('../../../infra/k8s/', import.meta.url));
const manifests = () =>
  readdirSync(K8S_DIR)
    .filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml')
    .flatMap((f) => parseAllDocuments(readFileSync(K8S_DIR + f, 'utf8')).map((d) => ({ file: f, obj: d.toJS() as { apiVersion: string; kind: string; metadata: { name: string; namespace?: string } } })));
const PLURAL: Record<string, string> = { Namespace: 'namespaces', ConfigMap: 'configmaps', Secret: 'secrets', ServiceAccount: 'serviceaccounts', ClusterRole: 'clusterroles', ClusterRoleBinding: 'clusterrolebindings', DaemonSet: 'daemonsets', Deployment: 'deployments', Service: 'services' };
const CLUSTER_SCOPED = new Set(['Namespace', 'ClusterRole', 'ClusterRoleBinding']);
function objectPath(o: { apiVersion: string; kind: string; metadata: { name: string; namespace?: string } }): string {
  const plural = PLURAL[o.kind];
  assert.ok(plural, `a path for ${o.kind}`);
  const base = o.apiVersion.includes('/') ? `/apis/${o.apiVersion}` : `/api/${o.apiVersion}`;
  return CLUSTER_SCOPED.has(o.kind) ? `${base}/${plural}/${o.metadata.name}` : `${base}/namespaces/${o.metadata.namespace}/${plural}/${o.metadata.name}`;
}
/** Server-side apply (create or update), optionally as a dry run. */
const apply = (client: KubeClient, o: Parameters<typeof objectPath>[0], dryRun: boolean) =>
  client.request('PATCH', `${objectPath(o)}?fieldManager=tollgate-test&force=true${dryRun ? '&dryRun=All' : ''}`, o, 'application/apply-patch+yaml');

test('every manifest in infra/k8s is accepted by the real apiserver (server-side dry run)', { skip, timeout: 60_000 }, async () => {
  const c = cluster();
  const docs = manifests();
  assert.ok(docs.length >= 8, `manifests found: ${docs.length}`);
  // Namespaced objects need their namespace to exist: apply it for real first.
  for (const d of docs.filter((x) => x.obj.kind === 'Namespace')) await apply(c.admin, d.obj, false);
  for (const d of docs) await apply(c.admin, d.obj, true).catch((err: unknown) => assert.fail(`${d.file} ${d.obj.kind}/${d.obj.metadata.name}: ${(err as Error).message}`));
});

test("the enricher's ServiceAccount, bound to its ClusterRole, syncs and is refused everything else", { skip, timeout: 60_000 }, async () => {
  const c = cluster();
  const rbac = manifests().filter((d) => d.file === 'enricher-rbac.yaml' || d.obj.kind === 'Namespace');
  for (const d of rbac) await apply(c.admin, d.obj, false);
  const sa = rbac.find((d) => d.obj.kind === 'ServiceAccount')!.obj.metadata;
  // A real service-account token, issued by the apiserver (TokenRequest).
  const tr = await c.admin.request<{ status: { token: string } }>('POST', `/api/v1/namespaces/${sa.namespace}/serviceaccounts/${sa.name}/token`, {
    apiVersion: 'authentication.k8s.io/v1',
    kind: 'TokenRequest',
    spec: { expirationSeconds: 600 },
  });
  const ca = readFileSync(`${c.dir}/pki/ca.crt`);
  const client = new KubeClient({ server: c.url, ca, token: tr.status.token });
  // RBAC caches refresh within a second or two of the binding.
  let source = kubeSource({ client, logger, syncTimeoutMs: 20_000 });
  const index = new OwnerIndex({ podGraceMs: 1_000 });
  await source.start((e) => index.apply(e));
  assert.ok(source.synced(), 'listed every resource it needs');
  assert.ok(index.size().nodes >= 0 && source.stats().events > 0);
  await source.stop();
  const status = async (p: Promise<unknown>) => p.then(() => 200, (e: unknown) => (e instanceof KubeApiError ? e.status : -1));
  // What it needs: list and get, on exactly its resources.
  for (const r of KUBE_RESOURCES) assert.equal(await status(client.list(r, { limit: 1 })), 200, r.plural);
  // Everything else: 403.
  assert.equal(await status(client.request('GET', '/api/v1/secrets')), 403, 'secrets');
  assert.equal(await status(client.request('GET', '/api/v1/configmaps')), 403, 'configmaps');
  assert.equal(await status(client.request('GET', '/apis/apps/v1/deployments')), 403, 'deployments (never read: the ReplicaSet names them)');
  assert.equal(await status(client.request('POST', '/api/v1/namespaces/default/pods', { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'x' }, spec: { containers: [{ name: 'c', image: 'x' }] } })), 403, 'create a pod');
  assert.equal(await status(client.request('DELETE', `${resourcePath(KUBE_RESOURCES.find((r) => r.kind === 'Node')!)}/anything`)), 403, 'delete a node');
  assert.equal(await status(client.request('PATCH', '/api/v1/namespaces/default', { metadata: { labels: { a: 'b' } } }, 'application/merge-patch+json')), 403, 'label a namespace');
  // A wrong token is 401; the source reports it, naming the setting, within its timeout.
  const bad = { server: c.url, ca, token: 'not-a-token' };
  assert.equal(await status(new KubeClient(bad).list(KUBE_RESOURCES[0]!)), 401);
  source = kubeSource({ client: new KubeClient(bad), logger, syncTimeoutMs: 1_500, backoffMs: 100 });
  await assert.rejects(source.start(() => {}), (e: unknown) => e instanceof ConfigError && e.setting === 'TOLLGATE_K8S_SOURCE' && /401/.test(e.message));
});

test('no reachable cluster: start fails within the timeout with a ConfigError naming the setting', { timeout: 30_000 }, async () => {
  const source = kubeSource({ client: new KubeClient({ server: 'https://127.0.0.1:1', insecureSkipTlsVerify: true, token: 'x' }), logger, syncTimeoutMs: 1_000, backoffMs: 50 });
  const t0 = Date.now();
  await assert.rejects(source.start(() => {}), (e: unknown) => e instanceof ConfigError && e.setting === 'TOLLGATE_K8S_SOURCE' && /127\.0\.0\.1:1/.test(e.message));
  assert.ok(Date.now() - t0 < 5_000);
  assert.ok(source.stats().errors > 0);
});

test('a broken watch resumes, and an apiserver restarted mid-run leaves the index right', { skip, timeout: 180_000 }, async () => {
  // A cluster of its own: restarting the shared one would disturb the other tests.
  const c = startTestCluster({ env: process.env, privateName: 'restart', port: 16553 });
  cleanups.push(async () => c.stop());
  const w = new ObjectWriter(c.admin);
  const ns = 'restart';
  await w.namespace(ns).catch(() => {});
  const node = 'rn1';
  await w.deleteQuietly('Node', undefined, node);
  await w.node(node, { zone: 'z1', region: 'r1', ip: '172.30.0.1', podCIDR: '10.30.0.0/24' });
  // Short server-side watch timeouts: the watches end and resume from their resourceVersion all the time.
  const client = KubeClient.fromFile(c.kubeconfig('admin'), { watchTimeoutSeconds: 1 });
  const index = new OwnerIndex({ podGraceMs: 500 });
  const source = kubeSource({ client, logger, backoffMs: 100, maxBackoffMs: 1_000 });
  await source.start((e) => index.apply(e));
  cleanups.push(() => source.stop());
  const who = (ip: string) => {
    const t = index.lookupIp(ip, Date.now());
    return t?.type === 'POD' ? t.name : '';
  };
  for (let i = 0; i < 5; i++) {
    await w.deleteQuietly('Pod', ns, `a${i}`);
    await w.pod(ns, `a${i}`, { node, ip: `10.30.0.${10 + i}` });
  }
  await new Promise((r) => setTimeout(r, 2_500)); // several watch timeouts
  await w.deleteQuietly('Pod', ns, 'b0');
  await w.pod(ns, 'b0', { node, ip: '10.30.0.50' });
  await until('pods across resumed watches', () => [0, 1, 2, 3, 4].every((i) => who(`10.30.0.${10 + i}`) === `a${i}`) && who('10.30.0.50') === 'b0');
  assert.ok(source.stats().resumes > 0, 'watches ended and resumed');

  // Restart: while the apiserver is down the source fails and backs off; meanwhile nothing can
  // change. Right after it is back, a pod goes and another comes: the index must see both.
  c.stopApiserver();
  await new Promise((r) => setTimeout(r, 1_000));
  const errorsBefore = source.stats().errors;
  c.startApiserver();
  await w.delete('Pod', ns, 'a0');
  await w.pod(ns, 'c0', { node, ip: '10.30.0.60' });
  await until('index right after the restart', () => who('10.30.0.60') === 'c0' && who('10.30.0.10') === '', 30_000);
  assert.ok(source.stats().errors > errorsBefore || source.stats().gone > 0, `the restart was noticed: ${JSON.stringify(source.stats())}`);
  for (const i of [1, 2, 3, 4]) assert.equal(who(`10.30.0.${10 + i}`), `a${i}`);
  assert.equal(who('10.30.0.50'), 'b0');
});

test('kubeconfig files: token, token file and client certificate users; exec plugins refused with the reason', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-kubeconfig-'));
  try {
    writeFileSync(join(dir, 'ca.pem'), 'CA');
    writeFileSync(join(dir, 'tok'), 'from-file\n');
    const cfg = (user: string) => `apiVersion: v1
kind: Config
clusters: [{ name: c, cluster: { server: "https://10.0.0.1:6443", certificate-authority: ca.pem } }]
users: [{ name: u, user: ${user} }]
contexts: [{ name: x, context: { cluster: c, user: u } }]
current-context: x
`;
    const at = (user: string) => {
      writeFileSync(join(dir, 'config'), cfg(user));
      return loadKubeconfig(join(dir, 'config'));
    };
    const a = at('{ token: abc }');
    assert.deepEqual([a.server, a.ca?.toString(), a.token], ['https://10.0.0.1:6443', 'CA', 'abc']);
    const b = at('{ tokenFile: tok }');
    assert.equal(typeof b.token === 'function' ? b.token() : b.token, 'from-file');
    const c = at(`{ client-certificate-data: ${Buffer.from('CERT').toString('base64')}, client-key-data: ${Buffer.from('KEY').toString('base64')} }`);
    assert.deepEqual([c.cert?.toString(), c.key?.toString()], ['CERT', 'KEY']);
    assert.throws(() => at('{ exec: { command: aws } }'), (e: unknown) => e instanceof KubeconfigError && /exec plugin/.test(e.message));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
