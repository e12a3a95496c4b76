// Checks the deployment files against the code: docker-compose.yml and infra/k8s parse, use only
// settings Tollgate knows, and keep the security promises (least privilege).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { parse, parseAllDocuments } from 'yaml';
import { allSettings, settingsTable } from '@tollgate/config';
import { allMetricsTable } from '@tollgate/cli';

const root = new URL('../', import.meta.url);
const known = new Set(Object.values(allSettings).map((s) => s.name));
type Obj = Record<string, unknown>;
const obj = (x: unknown): Obj => (x ?? {}) as Obj;

test('docker-compose.yml: Kafka, ClickHouse and the three services, with known settings only', () => {
  const compose = obj(parse(readFileSync(new URL('docker-compose.yml', root), 'utf8'), { merge: true }));
  const services = obj(compose.services);
  for (const name of ['kafka', 'clickhouse', 'agent', 'enricher', 'sink']) assert.ok(services[name], `service ${name}`);
  for (const [name, svc] of Object.entries(services)) {
    const image = String(obj(svc).image ?? '');
    assert.match(image, /:[\w.-]+$/, `${name} pins an image tag`);
    assert.doesNotMatch(image, /:latest$/, `${name} does not use :latest`);
  }
  for (const name of ['agent', 'enricher', 'sink']) {
    const svc = obj(services[name]);
    assert.deepEqual(svc.command, [name]);
    const env = obj(svc.environment);
    assert.ok(Object.keys(env).length > 0);
    for (const k of Object.keys(env)) assert.ok(known.has(k), `${name}: ${k} is a Tollgate setting`);
    assert.equal(env.TOLLGATE_KAFKA_BROKERS, 'kafka:9092');
  }
  assert.equal(obj(obj(services.sink).environment).TOLLGATE_CLICKHOUSE_URL, 'http://clickhouse:8123');
});

const manifests = readdirSync(new URL('infra/k8s/', root))
  .filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml')
  .flatMap((f) => parseAllDocuments(readFileSync(new URL(`infra/k8s/${f}`, root), 'utf8')).map((d) => obj(d.toJSON())));
const byKind = (kind: string) => manifests.filter((m) => m.kind === kind);

test('k8s: the agent has NET_ADMIN and nothing else, is not privileged, and has no API token', () => {
  const ds = byKind('DaemonSet').find((d) => obj(d.metadata).name === 'tollgate-agent');
  assert.ok(ds);
  const pod = obj(obj(obj(ds.spec).template).spec);
  assert.equal(pod.automountServiceAccountToken, false);
  assert.equal(pod.hostNetwork, true);
  const c = obj((pod.containers as unknown[])[0]);
  const sc = obj(c.securityContext);
  assert.equal(sc.privileged, false);
  assert.equal(sc.allowPrivilegeEscalation, false);
  assert.deepEqual(obj(sc.capabilities), { drop: ['ALL'], add: ['NET_ADMIN'] });
});

test('k8s: the enricher may only read the objects it indexes', () => {
  const roles = byKind('ClusterRole');
  assert.equal(roles.length, 1);
  for (const rule of roles[0]!.rules as Obj[]) {
    assert.deepEqual([...(rule.verbs as string[])].sort(), ['get', 'list', 'watch']);
    assert.ok(!(rule.resources as string[]).includes('*'));
    assert.ok(!(rule.resources as string[]).includes('secrets'));
  }
  const deployment = byKind('Deployment').find((d) => obj(d.metadata).name === 'tollgate-enricher');
  assert.equal(obj(obj(obj(deployment?.spec).template).spec).serviceAccountName, 'tollgate-enricher');
});

/** Environment variables a manifest may set that no Tollgate code reads (the C runtime does). */
const RUNTIME_ENV = new Set(['MALLOC_ARENA_MAX']);

test('k8s: every TOLLGATE_ variable is a known setting and passwords come from Secrets', () => {
  for (const m of manifests) {
    if (m.kind === 'ConfigMap') {
      for (const k of Object.keys(obj(m.data))) {
        assert.ok(known.has(k), `ConfigMap key ${k}`);
        assert.doesNotMatch(k, /PASSWORD/);
      }
    }
    const pod = obj(obj(obj(m.spec).template).spec);
    for (const c of (pod.containers as Obj[] | undefined) ?? []) {
      for (const e of (c.env as Obj[] | undefined) ?? []) {
        // Beside the settings catalogue only variables read by the runtime itself (glibc's malloc).
        assert.ok(known.has(String(e.name)) || RUNTIME_ENV.has(String(e.name)), `${String(e.name)}`);
        if (/PASSWORD/.test(String(e.name))) assert.ok(obj(e.valueFrom).secretKeyRef, 'password from a Secret');
      }
    }
  }
});

test('README: the configuration table is the settings catalogue, and the Quick start is two commands', () => {
  const readme = readFileSync(new URL('README.md', root), 'utf8');
  assert.ok(readme.includes(settingsTable()), 'README configuration table is stale: npm run docs:settings');
  assert.ok(readme.includes(allMetricsTable()), 'README metrics table is stale: npm run docs:metrics');
  const quick = readme.split(/^## Quick start$/m)[1]!.split(/^## /m)[0]!;
  const commands = quick.split('```')[1]!.split('\n').filter((l) => l.trim() && !l.startsWith('bash'));
  assert.deepEqual(commands, ['npm install && npm run demo', 'npm install && npm test']);
  assert.ok(readFileSync(new URL('.ci/run', root), 'utf8').includes(commands[1]!), '.ci/run runs the README test command');
});

test('Prometheus alert rules parse and name only metrics a stage declares', async () => {
  const { allMetricSets } = await import('@tollgate/cli');
  const declared = new Set(allMetricSets.flatMap((s) => Object.keys(s.specs)));
  const rules = obj(parse(readFileSync(new URL('infra/prometheus/tollgate-alerts.yaml', root), 'utf8')));
  const all = (rules.groups as Obj[]).flatMap((g) => g.rules as Obj[]);
  assert.ok(all.length >= 2);
  for (const r of all) {
    assert.match(String(r.alert), /^Tollgate[A-Z]\w+$/);
    assert.ok(obj(r.labels).severity, `${String(r.alert)} has a severity`);
    const names = String(r.expr).match(/\btollgate_[a-z0-9_]+/g) ?? [];
    assert.ok(names.length > 0, `${String(r.alert)} uses a Tollgate metric`);
    for (const n of names) assert.ok(declared.has(n) || n.startsWith('tollgate_process_') || n.startsWith('tollgate_nodejs_'), `${String(r.alert)}: ${n} is declared`);
  }
});
