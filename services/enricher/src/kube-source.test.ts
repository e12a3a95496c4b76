import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';
import { KUBE_RESOURCES } from './kube-source.ts';

// The API source itself needs an API server (none here); this checks that its RBAC grants
// exactly what it lists and watches.
test('infra/k8s/enricher-rbac.yaml grants get/list/watch on exactly the watched kinds', () => {
  const docs = parseAllDocuments(readFileSync(new URL('../../../infra/k8s/enricher-rbac.yaml', import.meta.url), 'utf8')).map((d) => d.toJS());
  const role = docs.find((d) => d.kind === 'ClusterRole');
  const granted: string[] = [];
  for (const r of role.rules as Array<{ apiGroups: string[]; resources: string[]; verbs: string[] }>) {
    assert.deepEqual([...r.verbs].sort(), ['get', 'list', 'watch']);
    for (const g of r.apiGroups) for (const res of r.resources) granted.push(`${g}/${res}`);
  }
  const watched = KUBE_RESOURCES.map((r) => `${r.group}/${r.plural}`);
  assert.deepEqual(granted.sort(), watched.sort());
  const binding = docs.find((d) => d.kind === 'ClusterRoleBinding');
  const sa = docs.find((d) => d.kind === 'ServiceAccount');
  assert.deepEqual(binding.subjects, [{ kind: 'ServiceAccount', name: sa.metadata.name, namespace: sa.metadata.namespace }]);
  assert.equal(binding.roleRef.name, role.metadata.name);
});
