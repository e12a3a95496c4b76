// Checks the deployment files against the code: docker-compose.yml and infra/k8s parse, use only
// settings Tollgate knows, and keep the security promises (least privilege).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, parseAllDocuments } from 'yaml';
import { allSettings, settingsTable } from '@tollgate/config';
import { allMetricsTable } from '@tollgate/cli';

const root = new URL('../', import.meta.url);
const known = new Set(Object.values(allSettings).map((s) => s.name));
type Obj = Record<string, unknown>;
const obj = (x: unknown): Obj => (x ?? {}) as Obj;

const compose = obj(parse(readFileSync(new URL('docker-compose.yml', root), 'utf8'), { merge: true }));
const services = obj(compose.services);

test('docker-compose.yml: Kafka, ClickHouse and the three services, with known settings only', () => {
  for (const name of ['kafka', 'clickhouse', 'migrate', 'agent', 'enricher', 'sink']) assert.ok(services[name], `service ${name}`);
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
  // The migrations run once the server is healthy; what reads or writes the store waits for them.
  assert.deepEqual(obj(services.migrate).command, ['migrate']);
  assert.deepEqual(obj(obj(services.migrate).depends_on).clickhouse, { condition: 'service_healthy' });
  for (const name of ['sink', 'report']) assert.deepEqual(obj(obj(obj(services[name]).depends_on).migrate), { condition: 'service_completed_successfully' }, `${name} after the migrations`);
});

/** `${VAR:-default}` as compose resolves it, with `vars` as the shell's environment. */
const interpolate = (v: unknown, vars: Record<string, string>) => String(v).replace(/\$\{(\w+)(?::-([^}]*))?\}/g, (_, k: string, d?: string) => vars[k] ?? d ?? '');
const argv = (svc: Obj) => [...((svc.entrypoint as string[] | undefined) ?? []), ...((svc.command as string[] | undefined) ?? [])];

test('docker-compose.yml: Superset imports the repository\'s bundle against the compose ClickHouse server, the password through the environment only', () => {
  const bundler = obj(services['superset-bundle']);
  const superset = obj(services.superset);
  // The bundle: written by the Tollgate image with the repository's builder (the one `npm run dashboards` runs).
  assert.equal(bundler.image, obj(services.sink).image);
  const args = argv(bundler);
  assert.deepEqual(args.slice(0, 2), ['node', '/opt/tollgate/infra/superset/bundle.ts']);
  assert.ok(readFileSync(new URL('Dockerfile', root), 'utf8').includes('COPY infra/superset/bundle.ts infra/superset/bundle.ts'), 'the Tollgate image holds the builder');
  const zip = args[2]!;
  // ... into a volume that Superset mounts and imports from, once it is written and the migrations ran.
  const volumeAt = (svc: Obj, path: string) => ((svc.volumes as string[]) ?? []).map((v) => v.split(':')).find(([, at]) => path.startsWith(`${at}/`))?.[0];
  const shared = volumeAt(bundler, zip);
  assert.ok(shared && Object.keys(obj(compose.volumes)).includes(shared), 'the bundle is written into a named volume');
  assert.equal(volumeAt(superset, zip), shared, 'Superset mounts the volume the bundle is in');
  assert.deepEqual(obj(superset.depends_on), {
    clickhouse: { condition: 'service_healthy' },
    migrate: { condition: 'service_completed_successfully' },
    'superset-bundle': { condition: 'service_completed_successfully' },
  });
  const cmd = argv(superset);
  assert.equal(cmd[cmd.indexOf('--bundle') + 1], zip);
  // Superset itself: the pinned install (setup.sh with constraints.txt), imported and served by dashboards.sh.
  const build = obj(superset.build);
  const dockerfile = readFileSync(new URL(String(build.dockerfile), root), 'utf8');
  assert.equal(build.context, '.');
  for (const want of ['infra/superset/constraints.txt', 'RUN bash infra/superset/setup.sh', 'infra/superset/dashboards.sh']) assert.ok(dockerfile.includes(want), `infra/superset/Dockerfile: ${want}`);
  assert.ok(((superset.ports as string[]) ?? []).every((p) => p.startsWith('127.0.0.1:')), 'Superset is published on loopback only');

  // The URI names the compose ClickHouse server, as the compose user; the password is the server's.
  const ch = obj(obj(services.clickhouse).environment);
  for (const svc of [bundler, superset]) {
    const env = obj(svc.environment);
    const url = new URL(String(env.TOLLGATE_CLICKHOUSE_URL));
    assert.equal(url.hostname, 'clickhouse');
    assert.equal(url.port, '8123');
    assert.equal(env.TOLLGATE_CLICKHOUSE_USER, ch.CLICKHOUSE_USER);
    assert.equal(env.TOLLGATE_CLICKHOUSE_PASSWORD, ch.CLICKHOUSE_PASSWORD);
  }
  // No service names a secret on its command line or in its health check.
  for (const [name, svc] of Object.entries(services)) {
    const line = [...argv(obj(svc)), ...((obj(obj(svc).healthcheck).test as string[] | undefined) ?? [])].join(' ');
    assert.doesNotMatch(line, /password|secret|\$\{/i, `${name}: no secret on its command line`);
  }

  // Run the builder as the service does, with its environment (a distinctive password given to
  // compose): the bundle's URI is the server's, and neither its output nor the bundle holds the password.
  const password = 'pw-Compose-7f3a';
  const env: Record<string, string> = { PATH: process.env.PATH ?? '' };
  for (const [k, v] of Object.entries(obj(bundler.environment))) env[k] = interpolate(v, { TOLLGATE_CLICKHOUSE_PASSWORD: password });
  assert.equal(env.TOLLGATE_CLICKHOUSE_PASSWORD, password);
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-compose-bundle-'));
  try {
    const out = join(dir, 'tollgate-dashboards.zip');
    const r = spawnSync(process.execPath, [fileURLToPath(new URL('infra/superset/bundle.ts', root)), out], { env, encoding: 'utf8', cwd: dir });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr, `Superset bundle ${out}: database clickhousedb://${env.TOLLGATE_CLICKHOUSE_USER}@clickhouse:8123/${env.TOLLGATE_CLICKHOUSE_DATABASE}\n`);
    assert.ok(!(r.stdout + r.stderr).includes(password), 'the builder does not print the password');
    assert.ok(!readFileSync(out).includes(password), 'the bundle does not hold the password');
    assert.ok(!existsSync(join(dir, '.tollgate')), 'a server bundle makes no embedded store');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  // Superset reads it from its environment at each connection.
  assert.match(readFileSync(new URL('infra/superset/superset_config.py', root), 'utf8'), /SQLALCHEMY_CUSTOM_PASSWORD_STORE = _password/);
});

test('package.json: every package the services and libraries import is a production dependency (the image installs with --omit=dev)', () => {
  const pkg = JSON.parse(readFileSync(new URL('package.json', root), 'utf8')) as { dependencies: Record<string, string> };
  const builtin = new Set(builtinModules);
  const files = ['libs', 'services'].flatMap((top) =>
    readdirSync(new URL(`${top}/`, root)).flatMap((p) =>
      (readdirSync(new URL(`${top}/${p}/src/`, root), { recursive: true }) as string[])
        .filter((f) => f.endsWith('.ts') && !/\.test\.ts$|testkit|testing\.ts$|codegen\.ts$/.test(f))
        .map((f) => `${top}/${p}/src/${f}`),
    ),
  );
  files.push('bin/tollgate.mjs', 'infra/superset/bundle.ts');
  const used = new Map<string, string>();
  for (const f of files) {
    // Static imports and re-exports (also over several lines), bare imports, dynamic imports.
    for (const m of readFileSync(new URL(f, root), 'utf8').matchAll(/^\s*(?:(?:import|export)\b[^'";]*?\bfrom\s*|import\s*)'([^']+)'|\bimport\(\s*'([^']+)'\s*\)/gm)) {
      const spec = (m[1] ?? m[2])!;
      if (spec.startsWith('.') || spec.startsWith('node:') || builtin.has(spec) || spec.startsWith('@tollgate/')) continue;
      used.set(spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!, f);
    }
  }
  assert.ok(used.has('yaml') && used.has('kafkajs'), 'the scan finds the imports');
  for (const [name, file] of used) assert.ok(pkg.dependencies[name], `${name} (imported by ${file}) is in dependencies`);
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
