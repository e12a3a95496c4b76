// `tollgate report` on a hand-built store: the period and scope flags, CSV, top destinations, the
// costs worked out here from the seed prices (DESIGN.md section 5), and that it never writes.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createLogger } from '@tollgate/log';
import { openStore, type FlowRow } from '@tollgate/clickhouse';
import { flowRow, GiB, hourAgo, MiB } from '@tollgate/clickhouse/testing';

const BIN = fileURLToPath(new URL('../../../bin/tollgate.mjs', import.meta.url));
const dataDir = mkdtempSync(join(tmpdir(), 'tollgate-report-'));
after(() => rmSync(dataDir, { recursive: true, force: true }));

function tollgate(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    env: { PATH: process.env.PATH ?? '', TOLLGATE_DATA_DIR: dataDir, TOLLGATE_LOG_LEVEL: 'warn', ...env },
    encoding: 'utf8',
    timeout: 120_000,
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

test('report: never migrates; --since/--until/--namespace/--cluster; json and csv; costs at the seed prices', async () => {
  // A store without the schema: report refuses, and leaves it without one.
  const bare = tollgate(['report'], { TOLLGATE_CLICKHOUSE_DATABASE: 'bare' });
  assert.equal(bare.code, 1, bare.err);
  assert.match(bare.err, /lacks migrations 0001_flows, .*run `tollgate migrate`/);

  const logger = createLogger('silent');
  const store = await openStore({ url: '', user: 'default', password: '', database: 'tollgate', dataDir }, logger);
  const T = hourAgo(5);
  let off = 0;
  const r = (p: Partial<FlowRow>) => flowRow({ src_offset: off++, ...p });
  await store.migrate();
  await store.insertFlows([
    // shop/web: 1 GiB to the internet through the NAT gateway (egress 0.09 + NAT 0.045 each way), 2 h before T.
    r({ time: T - 7200, local_namespace: 'shop', local_workload: 'web', egress_bytes: GiB, ingress_bytes: GiB / 2, nat_gateway: true }),
    // shop/web: 4 GiB cross-zone at T (0.01 each direction).
    r({ time: T, local_namespace: 'shop', local_workload: 'web', class: 'cross_zone', remote_kind: 'POD', remote_country: '', egress_bytes: 4 * GiB, ingress_bytes: 2 * GiB }),
    // data/db: 2 GiB cross-region at T (0.02 egress, ingress free).
    r({ time: T, local_namespace: 'data', local_workload: 'db', local_workload_kind: 'StatefulSet', class: 'cross_region', remote_kind: 'POD', remote_country: '', egress_bytes: 2 * GiB, ingress_bytes: MiB }),
    // another cluster's web: 1 GiB internet, no NAT.
    r({ time: T, cluster: 'other', local_namespace: 'shop', local_workload: 'web', egress_bytes: GiB, ingress_bytes: 0, local_labels: { team: 'web"x' } }),
  ]);
  // Budgets (month to date): data's 0.01 is crossed at hour T (0.04 spent); shop's 100 is not reached.
  await store.client.insert({
    table: 'tollgate.budgets',
    format: 'JSONEachRow',
    values: [{ cluster: '*', namespace: 'data', period: 'month', usd: 0.01 }, { cluster: 'test', namespace: 'shop', period: 'month', usd: 100 }],
    clickhouse_settings: { insert_deduplication_token: '' },
  });
  await store.close();

  const json = (args: string[]) => {
    const out = tollgate(['report', '--format', 'json', '--since', 'all', ...args]);
    assert.equal(out.code, 0, out.err);
    return JSON.parse(out.out) as {
      budgets: Array<{ cluster: string; namespace: string; period: string; spent_usd: number; budget_usd: number; over: boolean }>;
      overruns: Array<{ cluster: string; namespace: string; window_start: number; spent_usd: number }>;
      totals: { total_usd: number }; workloads: Array<{ cluster: string; namespace: string; workload: string; total_usd: number; nat_usd: number }>; destinations: Array<{ workload: string; country: string; asn: number; egress_bytes: number }> };
  };
  const webTestUsd = 0.09 + 0.045 * 1.5 + 4 * 0.01 + 2 * 0.01;
  const dbUsd = 2 * 0.02;
  const all = json([]);
  const near = (a: number, b: number, what: string) => assert.ok(Math.abs(a - b) < 1e-9, `${what}: ${a} != ${b}`);
  near(all.totals.total_usd, webTestUsd + dbUsd + 0.09, 'total');
  assert.deepEqual(all.workloads.map((w) => `${w.cluster}/${w.namespace}/${w.workload}`), ['test/shop/web', 'other/shop/web', 'test/data/db']);
  near(all.workloads[0]!.nat_usd, 0.045 * 1.5, 'NAT both ways');
  assert.deepEqual(all.destinations.filter((d) => d.workload === 'web').map((d) => [d.country, d.asn, d.egress_bytes]), [['GB', 20712, GiB], ['GB', 20712, GiB]]);

  // The crossing, once, at hour T; the status at the end of hour T (the month that holds T).
  assert.deepEqual(all.overruns.map((o) => [o.cluster, o.namespace, o.window_start]), [['test', 'data', T * 1000]]);
  near(all.overruns[0]!.spent_usd, dbUsd, 'data spent when crossed');
  const atT = json(['--until', new Date((T + 3600) * 1000).toISOString()]);
  assert.deepEqual(atT.budgets.map((b) => [b.cluster, b.namespace, b.period, b.budget_usd, b.over]), [
    ['other', 'data', 'month', 0.01, false], // the '*' budget applies to every cluster: nothing spent there
    ['test', 'data', 'month', 0.01, true],
    ['test', 'shop', 'month', 100, false],
  ]);
  near(atT.budgets[0]!.spent_usd, 0, 'other/data');
  near(atT.budgets[2]!.spent_usd, T - 7200 >= Date.UTC(new Date(T * 1000).getUTCFullYear(), new Date(T * 1000).getUTCMonth(), 1) / 1000 ? webTestUsd : 4 * 0.01 + 2 * 0.01, 'shop month to date');
  const table = tollgate(['report', '--since', 'all']);
  assert.equal(table.code, 0, table.err);
  assert.match(table.out, /Budgets crossed in the period: 1\n[^]*test\/data +month of \d{4}-\d{2} /);

  const shop = json(['--namespace', 'shop', '--cluster', 'test']);
  assert.deepEqual(shop.workloads.map((w) => w.workload), ['web']);
  near(shop.totals.total_usd, webTestUsd, 'shop in test');
  // [T - 1h, now): only the hour-T traffic.
  const recent = json(['--since', new Date((T - 3600) * 1000).toISOString(), '--until', 'now', '--cluster', 'test']);
  near(recent.totals.total_usd, 4 * 0.01 + 2 * 0.01 + dbUsd, 'since T - 1h');
  // [.., T): only the internet hour.
  const early = json(['--until', new Date(T * 1000).toISOString(), '--cluster', 'test']);
  near(early.totals.total_usd, 0.09 + 0.045 * 1.5, 'until T');

  const csv = tollgate(['report', '--format', 'csv', '--since', 'all', '--namespace', 'data']);
  assert.equal(csv.code, 0, csv.err);
  const lines = csv.out.trim().split('\n');
  assert.equal(lines[0], 'cluster,namespace,workload_kind,workload,class,egress_bytes,ingress_bytes,egress_usd,ingress_usd,nat_usd,total_usd');
  assert.deepEqual(lines.slice(1), [`test,data,StatefulSet,db,cross_region,${2 * GiB},${MiB},${dbUsd},0,0,${dbUsd}`]);

  // --by label:team: only other/shop/web's pod has a value (1 GiB internet, 0.09); the rest is every other byte.
  const byTeam = json(['--by', 'label:team']) as unknown as { labels: { key: string; values: Array<{ value: string | null; total_usd: number }> } };
  assert.deepEqual(byTeam.labels.values.map((v) => v.value), ['web"x', null]);
  near(byTeam.labels.values[0]!.total_usd, 0.09, 'team web"x');
  near(byTeam.labels.values[1]!.total_usd, webTestUsd + dbUsd, 'no team');
  const teamCsv = tollgate(['report', '--format', 'csv', '--since', 'all', '--by', 'label:team']);
  assert.equal(teamCsv.code, 0, teamCsv.err);
  assert.deepEqual(teamCsv.out.trim().split('\n').slice(0, 2), ['label_key,label_value,egress_bytes,ingress_bytes,egress_usd,ingress_usd,nat_usd,total_usd', `team,"web""x",${GiB},0,0.09,0,0,0.09`]);
  assert.equal(tollgate(['report', '--by', 'team']).code, 2);

  const bad = tollgate(['report', '--since', '1h', '--until', '2h']);
  assert.equal(bad.code, 2);
  assert.match(bad.err, /--until must be after --since/);
});
