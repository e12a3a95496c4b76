// The sink's Kubernetes Deployment cannot run two writers at once, and is probed and scraped.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';

type Obj = Record<string, unknown>;
const o = (x: unknown): Obj => (x ?? {}) as Obj;

test('infra/k8s/sink-deployment.yaml: one replica, Recreate, /healthz and /readyz probes on 9464, scrape annotations', () => {
  const d = o(parse(readFileSync(new URL('../../../infra/k8s/sink-deployment.yaml', import.meta.url), 'utf8')));
  const spec = o(d.spec);
  assert.equal(spec.replicas, 1);
  assert.deepEqual(spec.strategy, { type: 'Recreate' });
  const tpl = o(spec.template);
  assert.deepEqual(o(o(tpl.metadata).annotations), { 'prometheus.io/scrape': 'true', 'prometheus.io/port': '9464', 'prometheus.io/path': '/metrics' });
  const c = o((o(tpl.spec).containers as unknown[])[0]);
  assert.deepEqual(c.ports, [{ name: 'metrics', containerPort: 9464 }]);
  assert.deepEqual(o(o(c.livenessProbe).httpGet), { path: '/healthz', port: 'metrics' });
  assert.deepEqual(o(o(c.readinessProbe).httpGet), { path: '/readyz', port: 'metrics' });
});
