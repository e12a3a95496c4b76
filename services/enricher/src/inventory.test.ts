import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '@tollgate/config';
import type { InventoryEvent } from '@tollgate/kube';
import { fileSource, toKubeObject } from './inventory.ts';
import { OwnerIndex } from './owner-index.ts';

const dir = mkdtempSync(join(tmpdir(), 'tollgate-inv-'));

// What `kubectl get pods,nodes,services,replicasets,deployments,cronjobs,jobs -A -o json` prints (trimmed).
const list = {
  apiVersion: 'v1',
  kind: 'List',
  metadata: { resourceVersion: '' },
  items: [
    {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'web-6c7f-abcde', namespace: 'shop', uid: 'p1', ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web-6c7f', uid: 'rs1', controller: true, blockOwnerDeletion: true }], creationTimestamp: '2026-01-01T00:00:00Z' },
      spec: { nodeName: 'ip-10-0-1-10', containers: [{ name: 'web', image: 'nginx', ports: [{ containerPort: 80, protocol: 'TCP' }] }] },
      status: { phase: 'Running', podIP: '10.0.1.55', podIPs: [{ ip: '10.0.1.55' }], hostIP: '10.0.1.10' },
    },
    {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'report-29000-x', namespace: 'ops', uid: 'p2', ownerReferences: [{ kind: 'Job', name: 'report-29000', uid: 'job1', controller: true }] },
      spec: { nodeName: 'ip-10-0-1-10', containers: [{ name: 'r' }] },
      status: { phase: 'Succeeded', podIP: '10.0.1.56' },
    },
    { apiVersion: 'apps/v1', kind: 'ReplicaSet', metadata: { name: 'web-6c7f', namespace: 'shop', uid: 'rs1', ownerReferences: [{ kind: 'Deployment', name: 'web', uid: 'd1', controller: true }] }, spec: { replicas: 1 }, status: { replicas: 1 } },
    { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web', namespace: 'shop', uid: 'd1' }, spec: {}, status: {} },
    { apiVersion: 'batch/v1', kind: 'Job', metadata: { name: 'report-29000', namespace: 'ops', uid: 'job1', ownerReferences: [{ kind: 'CronJob', name: 'report', uid: 'cj1', controller: true }] } },
    { apiVersion: 'batch/v1', kind: 'CronJob', metadata: { name: 'report', namespace: 'ops', uid: 'cj1' } },
    {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: { name: 'ip-10-0-1-10', uid: 'n1', labels: { 'topology.kubernetes.io/zone': 'eu-central-1a', 'topology.kubernetes.io/region': 'eu-central-1', 'kubernetes.io/os': 'linux' } },
      spec: { providerID: 'aws:///eu-central-1a/i-0abc' },
      status: { addresses: [{ type: 'InternalIP', address: '10.0.1.10' }, { type: 'InternalDNS', address: 'ip-10-0-1-10.ec2.internal' }] },
    },
    { apiVersion: 'v1', kind: 'Service', metadata: { name: 'web', namespace: 'shop', uid: 's1' }, spec: { clusterIP: '172.20.0.15', clusterIPs: ['172.20.0.15'], type: 'ClusterIP' } },
    { apiVersion: 'v1', kind: 'Service', metadata: { name: 'headless', namespace: 'shop', uid: 's2' }, spec: { clusterIP: 'None' } },
    { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'ignored', namespace: 'shop', uid: 'cm1' } },
  ],
};

test('file source: a kubectl List feeds the index (owners, zones, cloud, services; finished pods hold no IP)', async () => {
  const path = join(dir, 'inventory.json');
  writeFileSync(path, JSON.stringify(list));
  const index = new OwnerIndex({ podGraceMs: 0 });
  const events: InventoryEvent[] = [];
  const src = fileSource(path);
  assert.equal(src.name, `file:${path}`);
  await src.start((e) => {
    events.push(e);
    index.apply(e);
  });
  assert.equal(events.length, 9, 'the ConfigMap is skipped');
  const t = Date.parse('2026-03-01T00:00:00Z');
  const web = index.lookupIp('10.0.1.55', t)!;
  assert.deepEqual({ ...index.info(web) }, { kind: 'POD', namespace: 'shop', workload_kind: 'Deployment', workload: 'web', pod: 'web-6c7f-abcde', node: 'ip-10-0-1-10', zone: 'eu-central-1a', region: 'eu-central-1', labels: {} });
  assert.equal(index.lookupIp('10.0.1.56', t), undefined, 'Succeeded pod: its IP went back to the pool');
  assert.equal(index.node('ip-10-0-1-10')?.cloud, 'aws');
  assert.equal(index.lookupIp('10.0.1.10', t)?.type, 'NODE');
  assert.equal(index.info(index.lookupIp('172.20.0.15', t)!).workload, 'web');
  await src.stop();
});

test('file source errors name TOLLGATE_K8S_SOURCE', async () => {
  await assert.rejects(fileSource(join(dir, 'nope.json')).start(() => {}), (e: unknown) => e instanceof ConfigError && e.setting === 'TOLLGATE_K8S_SOURCE');
  const p = join(dir, 'notalist.json');
  writeFileSync(p, '{"kind":"Pod"}');
  await assert.rejects(fileSource(p).start(() => {}), /not a Kubernetes List/);
});

test('toKubeObject accepts client-node objects (Dates, no kind on list items) and drops what the index does not read', () => {
  const o = toKubeObject(
    { metadata: { name: 'p', namespace: 'n', uid: 'u', creationTimestamp: new Date('2026-01-02T03:04:05Z'), managedFields: [{}], annotations: { big: 'x'.repeat(1000) } }, spec: { nodeName: 'a', hostNetwork: true, containers: [{ name: 'c', ports: [{ containerPort: 9100, hostPort: 9100 }] }], volumes: [] }, status: { podIP: '10.0.0.1', conditions: [] } },
    'Pod',
  );
  assert.ok(o && o.kind === 'Pod');
  assert.equal(o.metadata.creationTimestamp, '2026-01-02T03:04:05.000Z');
  assert.equal((o.metadata as unknown as Record<string, unknown>).annotations, undefined);
  assert.deepEqual(o.spec.containers[0]!.ports, [{ containerPort: 9100, hostPort: 9100, protocol: undefined }]);
  assert.equal(toKubeObject({ kind: 'Secret', metadata: { name: 's', uid: 'u' } }), undefined);
  assert.equal(toKubeObject(null), undefined);
});

test('a pod first listed after it finished held its IP from its creation until its last container finished; one seen running lets it go then', () => {
  const grace = 60_000;
  const index = new OwnerIndex({ podGraceMs: grace });
  const at = (s: string) => Date.parse(s);
  const pod = (uid: string, name: string, ip: string, phase: string, finished?: string[]) =>
    toKubeObject(
      {
        metadata: { name, namespace: 'ops', uid, creationTimestamp: '2026-01-01T02:00:00Z' },
        spec: { nodeName: 'n1', containers: [{ name: 'a' }, { name: 'b' }] },
        status: { phase, podIP: ip, containerStatuses: finished?.map((f, i) => ({ name: 'ab'[i], state: f ? { terminated: { exitCode: 0, finishedAt: new Date(f) } } : { running: {} } })) },
      },
      'Pod',
    )!;
  const listed = pod('u1', 'report-1', '10.0.1.7', 'Succeeded', ['2026-01-01T02:30:00Z', '2026-01-01T02:40:00Z']);
  assert.deepEqual(listed.kind === 'Pod' && listed.status.containerStatuses, [{ state: { terminated: { finishedAt: '2026-01-01T02:30:00.000Z' } } }, { state: { terminated: { finishedAt: '2026-01-01T02:40:00.000Z' } } }]);
  index.apply({ type: 'ADDED', object: listed, time: at('2026-01-01T02:00:00Z') });
  const who = (ip: string, t: string) => index.lookupIp(ip, at(t))?.name;
  assert.equal(who('10.0.1.7', '2026-01-01T01:59:59Z'), undefined, 'before its creation');
  assert.equal(who('10.0.1.7', '2026-01-01T02:39:00Z'), 'report-1', 'while a container ran');
  assert.equal(who('10.0.1.7', '2026-01-01T02:40:59Z'), 'report-1', 'within the grace after the last one finished');
  assert.equal(who('10.0.1.7', '2026-01-01T02:41:00Z'), undefined, 'past it');
  // Seen running, then finished: released from when the status says it finished, not from the event.
  index.apply({ type: 'ADDED', object: pod('u2', 'report-2', '10.0.1.8', 'Running'), time: at('2026-01-01T03:00:00Z') });
  index.apply({ type: 'MODIFIED', object: pod('u2', 'report-2', '10.0.1.8', 'Succeeded', ['2026-01-01T03:10:00Z']), time: at('2026-01-01T03:20:00Z') });
  assert.equal(who('10.0.1.8', '2026-01-01T03:10:59Z'), 'report-2');
  assert.equal(who('10.0.1.8', '2026-01-01T03:11:00Z'), undefined);
  // No finish time in its status: a pod first seen finished holds nothing; one seen running is released from the event.
  index.apply({ type: 'ADDED', object: pod('u3', 'report-3', '10.0.1.9', 'Failed'), time: at('2026-01-01T02:00:00Z') });
  assert.equal(who('10.0.1.9', '2026-01-01T02:00:30Z'), undefined);
  index.apply({ type: 'ADDED', object: pod('u4', 'report-4', '10.0.1.10', 'Running'), time: at('2026-01-01T03:00:00Z') });
  index.apply({ type: 'MODIFIED', object: pod('u4', 'report-4', '10.0.1.10', 'Failed', ['']), time: at('2026-01-01T03:20:00Z') });
  assert.equal(who('10.0.1.10', '2026-01-01T03:20:59Z'), 'report-4');
  assert.equal(who('10.0.1.10', '2026-01-01T03:21:00Z'), undefined);
});
