// The `flows` row is described once (flows-table.ts); these tests fail when a copy drifts:
// the generated code, the applied migrations' DDL, or a column the encoders write differently.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { appliedColumns, drift, generateRows, GENERATED_ROWS_FILE, migrationFor, schemaDrifts } from './codegen.ts';
import { columnDdl, FLOW_TABLE, rollupColumns, type FlowColumn } from './flows-table.ts';
import { FLOW_COLUMNS, ROLLUP_INSERT_COLUMNS } from './rows.ts';

const MIGRATIONS = fileURLToPath(new URL('../../../infra/clickhouse/', import.meta.url));

test('rows.generated.ts is up to date with flows-table.ts (npm run schemas:gen)', () => {
  assert.equal(readFileSync(GENERATED_ROWS_FILE, 'utf8'), generateRows());
});

test('the migrations create flows and rollup_input with exactly the columns of flows-table.ts', () => {
  for (const d of schemaDrifts()) {
    assert.deepEqual(d.conflicts, [], d.table);
    assert.deepEqual(d.missing.map((m) => m.column.name), [], `${d.table}: run npm run schemas:gen to generate the migration`);
  }
  // Read independently of the definition: the column names of 0001's CREATE TABLE, in order,
  // then each later migration's ADD COLUMN ... AFTER.
  const sql = readFileSync(join(MIGRATIONS, '0001_flows.sql'), 'utf8');
  const body = /CREATE TABLE IF NOT EXISTS \{\{db\}\}\.flows\s*\(([\s\S]*?)\n\)/.exec(sql)![1]!;
  const names = body.split('\n').map((l) => l.trim()).filter((l) => /^[a-z_]+ [A-Z]/.test(l)).map((l) => l.split(' ')[0]!);
  for (const f of readdirSync(MIGRATIONS).filter((x) => /^\d{4}_.*\.sql$/.test(x) && x > '0001').sort()) {
    for (const m of readFileSync(join(MIGRATIONS, f), 'utf8').matchAll(/\.flows ADD COLUMN IF NOT EXISTS (\w+) .*? AFTER (\w+);/g)) names.splice(names.indexOf(m[2]!) + 1, 0, m[1]!);
  }
  assert.deepEqual(names, [...FLOW_COLUMNS]);
  assert.deepEqual(appliedColumns(MIGRATIONS, 'rollup_input').map((c) => c.name).sort(), [...ROLLUP_INSERT_COLUMNS].sort());
});

test('a hand-kept copy that drifts is caught: a changed type, a dropped column, a reordered one', () => {
  const changed = FLOW_TABLE.map((c) => (c.name === 'remote_asn' ? { ...c, type: 'UInt64' } : c));
  assert.match(drift('flows', changed, true).conflicts.join('\n'), /flows\.remote_asn: the migrations say 'remote_asn UInt32', flows-table\.ts 'remote_asn UInt64'/);
  const dropped = FLOW_TABLE.filter((c) => c.name !== 'node');
  assert.match(drift('flows', dropped, true).conflicts.join('\n'), /flows\.node is in the migrations, not in flows-table\.ts/);
  const swapped = [FLOW_TABLE[1]!, FLOW_TABLE[0]!, ...FLOW_TABLE.slice(2)];
  assert.match(drift('flows', swapped, true).conflicts.join('\n'), /column order differs/);
  assert.deepEqual(drift('flows', swapped, false).conflicts, []);
});

test('adding a column is one edit plus regeneration: the generated migration brings the DDL to the definition', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-flows-table-'));
  try {
    cpSync(MIGRATIONS, dir, { recursive: true });
    const col: FlowColumn = { name: 'local_node', type: 'String', scope: 'local', from: 'l.node', rollup: true };
    const i = FLOW_TABLE.findIndex((c) => c.name === 'local_pod');
    const table = [...FLOW_TABLE.slice(0, i + 1), col, ...FLOW_TABLE.slice(i + 1)];
    const rollup = rollupColumns(table);
    const drifts = [drift('flows', table, true, dir), drift('rollup_input', rollup, false, dir)];
    assert.deepEqual(drifts.map((d) => d.missing.map((m) => [m.column.name, m.after])), [[['local_node', 'local_pod']], [['local_node', 'local_workload']]]);
    const sql = migrationFor(drifts);
    assert.match(sql, /^ALTER TABLE \{\{db\}\}\.flows ADD COLUMN IF NOT EXISTS local_node String AFTER local_pod;$/m);
    writeFileSync(join(dir, '0099_flows_add_local_node.sql'), sql);
    assert.deepEqual([drift('flows', table, true, dir), drift('rollup_input', rollup, false, dir)].map((d) => [d.missing, d.conflicts]), [[[], []], [[], []]]);
    assert.deepEqual(appliedColumns(dir, 'flows').map((c) => c.ddl), table.map(columnDdl));
    // The generated code carries the new column into the row type, the insert order, the encoder and the rollup feed.
    const code = generateRows(table);
    assert.match(code, /local_node: string;/);
    assert.match(code, /'local_pod', 'local_node', 'local_zone'/);
    assert.match(code, /ROLLUP_COLUMNS = \[[^\]]*'local_node'/);
    assert.match(code, /`\$\{tsvString\(l\.kind\)\}\\t\$\{tsvString\(l\.namespace\)\}\\t\$\{tsvString\(l\.workload_kind\)\}\\t\$\{tsvString\(l\.workload\)\}\\t\$\{tsvString\(l\.pod\)\}\\t\$\{tsvString\(l\.node\)\}\\t\$\{tsvString\(l\.zone\)\}/);
    assert.ok(readdirSync(dir).includes('0099_flows_add_local_node.sql'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a definition whose expression reads another scope than it declares is refused', () => {
  assert.throws(() => generateRows([...FLOW_TABLE, { name: 'x', type: 'String', scope: 'batch', from: 'f.role' }]), /column x reads flow values, declared scope batch/);
  assert.throws(() => generateRows([...FLOW_TABLE, { name: 'y', type: 'Array(String)', scope: 'batch', from: 'b.node' }]), /no TypeScript type/);
  assert.equal(rollupColumns().every((c) => c.codec === undefined), true);
});

test('pricedAs: a class that names a place is priced by where it is', async () => {
  const { pricedAs } = await import('./flows-table.ts');
  // direct: the zone and region of its configured range against the pod's
  assert.equal(pricedAs('DIRECT', 'us-east-1a', 'us-east-1', 'us-east-1a', 'us-east-1'), 'same_zone');
  assert.equal(pricedAs('DIRECT', 'us-east-1a', 'us-east-1', 'us-east-1b', 'us-east-1'), 'cross_zone');
  assert.equal(pricedAs('DIRECT', 'us-east-1a', 'us-east-1', 'us-west-2a', 'us-west-2'), 'cross_region');
  assert.equal(pricedAs('DIRECT', 'us-east-1a', 'us-east-1', '', 'us-west-2'), 'cross_region');
  assert.equal(pricedAs('DIRECT', 'us-east-1a', 'us-east-1', '', 'us-east-1'), 'direct');
  assert.equal(pricedAs('DIRECT', '', '', 'us-east-1a', 'us-east-1'), 'direct');
  // cloud services: free of transfer in the cluster's region, cross-region elsewhere
  assert.equal(pricedAs('CLOUD_SERVICE', 'us-east-1a', 'us-east-1', '', 'us-east-1'), 'cloud_service');
  assert.equal(pricedAs('CLOUD_SERVICE', 'us-east-1a', 'us-east-1', '', 'eu-west-1'), 'cross_region');
  assert.equal(pricedAs('CLOUD_SERVICE', 'us-east-1a', 'us-east-1', '', ''), 'cloud_service');
  // every other class is priced as itself
  for (const c of ['SAME_ZONE', 'CROSS_ZONE', 'CROSS_REGION', 'PRIVATE', 'INTERNET']) assert.equal(pricedAs(c, 'a', 'r1', 'b', 'r2'), c.toLowerCase());
});
