// Retention, the daily rollup and budgets (infra/clickhouse/0050-0055) on real chDB, with the
// truth worked out here: bytes x the seed prices of DESIGN.md section 5 (AWS internet egress
// 0.09 USD/GiB, ingress free), not read from the views under test.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '@tollgate/log';
import { openStore, type Store } from './store.ts';
import { budgetOverruns, budgetStatus, clientQuery, costByLabel, topDestinations } from './reports.ts';
import { flowRow, GiB, hourAgo } from './testing.ts';

const dataDir = mkdtempSync(join(tmpdir(), 'tollgate-ch-analytics-'));
const stores: Store[] = [];
after(async () => {
  for (const s of stores) await s.close();
  rmSync(dataDir, { recursive: true, force: true });
});
async function store(database: string): Promise<Store> {
  const s = await openStore({ url: '', user: 'default', password: '', database, dataDir }, createLogger('silent'));
  stores.push(s);
  await s.migrate();
  return s;
}
async function rows<T>(s: Store, sql: string): Promise<T[]> {
  return (await s.client.query({ query: sql, format: 'JSONEachRow' })).json<T>();
}
const close = (a: number, b: number, msg?: string) => assert.ok(Math.abs(a - b) < 1e-9, `${msg ?? ''} ${a} != ${b}`);
const INTERNET = 0.09;
const DAY = 86_400;

test('retention: raw flows keep 14 days, hourly rollups 2 years, the daily rollup every day; daily cost = bytes x price; a replayed migration copies nothing twice', async () => {
  const s = await store('ret');
  const recent = hourAgo(2);
  const old = hourAgo(20 * 24); // past the raw TTL, within the hourly one
  const ancient = hourAgo(800 * 24); // past the hourly TTL too
  const at = (time: number, egress: number, off: number) => flowRow({ time, egress_bytes: egress, ingress_bytes: 5, src_offset: off });
  // One insert per age: a part per age, so the TTL (ttl_only_drop_parts) drops whole expired parts.
  await s.insertFlows([at(recent, 3 * GiB, 1), at(recent + 60, GiB, 2)]);
  await s.insertFlows([at(old, 2 * GiB, 3)]);
  await s.insertFlows([at(ancient, 7 * GiB, 4)]);
  for (const t of ['flows', 'workload_hourly', 'workload_daily']) await s.client.command({ query: `OPTIMIZE TABLE ret.${t} FINAL` });

  const days = (t: number) => new Date(Math.floor(t / DAY) * DAY * 1000).toISOString().slice(0, 10);
  const raw = await rows<{ n: string; eb: string }>(s, 'SELECT toString(count()) AS n, toString(sum(egress_bytes)) AS eb FROM ret.flows');
  assert.deepEqual(raw, [{ n: '2', eb: String(4 * GiB) }], 'raw: only the rows younger than 14 days');
  const hourly = await rows<{ eb: string }>(s, 'SELECT toString(sum(egress_bytes)) AS eb FROM ret.workload_hourly');
  assert.deepEqual(hourly, [{ eb: String(6 * GiB) }], 'hourly: 2 years (the 800-day-old row is gone)');
  const daily = async () =>
    rows<{ day: string; eb: string; usd: number }>(s, 'SELECT toString(day) AS day, toString(sum(egress_bytes)) AS eb, sum(total_usd) AS usd FROM ret.workload_cost_daily GROUP BY day ORDER BY day');
  const want = [
    { day: days(ancient), eb: String(7 * GiB), usd: 7 * INTERNET },
    { day: days(old), eb: String(2 * GiB), usd: 2 * INTERNET },
    { day: days(recent), eb: String(4 * GiB), usd: 4 * INTERNET },
  ];
  const check = (got: Awaited<ReturnType<typeof daily>>) => {
    assert.deepEqual(got.map((r) => [r.day, r.eb]), want.map((r) => [r.day, r.eb]), 'daily: every day kept');
    for (const [i, r] of got.entries()) close(r.usd, want[i]!.usd, r.day);
  };
  check(await daily());

  // A price edit re-prices the daily history too.
  await s.client.command({ query: "INSERT INTO ret.prices (cloud, region, class, direction, usd_per_gib) VALUES ('aws', '*', 'internet', 'egress', 0.2)" });
  close((await daily())[0]!.usd, 7 * 0.2, 'repriced');
  await s.client.command({ query: "INSERT INTO ret.prices (cloud, region, class, direction, usd_per_gib) VALUES ('aws', '*', 'internet', 'egress', 0.09)" });

  // The migrations replay (as after a crash before they were recorded): the daily rollup is not copied again.
  await s.client.command({ query: 'ALTER TABLE ret.schema_migrations DELETE WHERE version >= 50 SETTINGS mutations_sync = 2' });
  assert.ok((await s.migrate()).includes('0050_daily_rollup_retention'));
  check(await daily());
  // On a store migrated before 0050, the daily rollup starts with what the hourly one holds (the 800-day-old row was already gone there).
  await s.client.command({ query: 'TRUNCATE TABLE ret.workload_daily' });
  await s.client.command({ query: 'ALTER TABLE ret.schema_migrations DELETE WHERE version >= 50 SETTINGS mutations_sync = 2' });
  await s.migrate();
  assert.deepEqual((await daily()).map((r) => [r.day, r.eb]), want.slice(1).map((r) => [r.day, r.eb]), 'daily: copied from the hourly rollup once');

  // flows' TTL is 14 days.
  const ttl = await rows<{ q: string }>(s, "SELECT engine_full AS q FROM system.tables WHERE database = 'ret' AND name = 'flows'");
  assert.match(ttl[0]!.q, /TTL time \+ toIntervalDay\(14\)/);
});

test('budgets per namespace and per chargeback label value, day and month to date: the overrun fires once at the hour it is crossed, the budget not yet reached stays silent', async () => {
  const s = await store('bud');
  const q = clientQuery(s.client);
  const db = '`bud`';
  // Yesterday (UTC), 05:00 and 06:00.
  const day0 = Math.floor(Date.now() / 1000 / DAY) * DAY - DAY;
  const h1 = day0 + 5 * 3600;
  const h2 = day0 + 6 * 3600;
  const f = (ns: string, time: number, gib: number, off: number) =>
    flowRow({ local_namespace: ns, local_workload: `${ns}-app`, local_labels: ns === 'shop' ? { team: 'pay' } : {}, time, egress_bytes: gib * GiB, ingress_bytes: GiB, src_offset: off });
  await s.insertFlows([f('shop', h1, 3, 1), f('shop', h2, 3, 2), f('data', h1, 5, 3)]);
  const budgets: Array<[string, string, 'day' | 'month', number, string?, string?]> = [
    ['*', 'shop', 'day', 0.5], // shop: 0.27 at 05:00, 0.54 at 06:00 -> crossed at 06:00
    ['*', 'shop', 'month', 100], // not reached
    ['*', 'data', 'day', 1.0], // overridden by the cluster's own row:
    ['test', 'data', 'day', 0.4], // data: 0.45 at 05:00 -> crossed at 05:00
    ['*', '*', 'day', 5], // the cluster's day: 0.99, not reached
    ['other', 'shop', 'day', 0.01], // another cluster's budget: no effect here
    ['*', '*', 'day', 0.3, 'team', 'pay'], // shop's pods are team=pay: 0.27, then 0.54 -> crossed at 06:00
    ['*', '*', 'day', 0.01, 'team', 'search'], // no pod has it: nothing spent
  ];
  for (const [c, ns, p, usd, label_key = '', label_value = ''] of budgets) {
    await s.client.insert({ table: 'bud.budgets', format: 'JSONEachRow', values: [{ cluster: c, namespace: ns, label_key, label_value, period: p, usd }], clickhouse_settings: { insert_deduplication_token: '' } });
  }
  const end = (day0 + DAY) * 1000;
  const status = await budgetStatus(q, db, { at: end - 1000 });
  const monthStart = Date.UTC(new Date(day0 * 1000).getUTCFullYear(), new Date(day0 * 1000).getUTCMonth(), 1);
  assert.deepEqual(
    status.map((b) => [b.cluster, b.namespace, b.label_key, b.label_value, b.period, b.period_start, b.budget_usd, b.over]),
    [
      ['test', '*', '', '', 'day', day0 * 1000, 5, false],
      ['test', '*', 'team', 'pay', 'day', day0 * 1000, 0.3, true],
      ['test', '*', 'team', 'search', 'day', day0 * 1000, 0.01, false],
      ['test', 'data', '', '', 'day', day0 * 1000, 0.4, true],
      ['test', 'shop', '', '', 'day', day0 * 1000, 0.5, true],
      ['test', 'shop', '', '', 'month', monthStart, 100, false],
    ],
  );
  const spent = Object.fromEntries(status.map((b) => [`${b.namespace}/${b.label_value}/${b.period}`, b.spent_usd]));
  close(spent['*/pay/day']!, 6 * INTERNET);
  close(spent['*/search/day']!, 0);
  close(spent['*//day']!, 11 * INTERNET);
  close(spent['data//day']!, 5 * INTERNET);
  close(spent['shop//day']!, 6 * INTERNET);
  close(spent['shop//month']!, 6 * INTERNET);

  const over = await budgetOverruns(q, db, { from: day0 * 1000, to: end });
  assert.deepEqual(
    over.map((o) => [o.namespace, o.label_value, o.period, o.window_start, o.budget_usd]),
    [
      ['data', '', 'day', h1 * 1000, 0.4],
      ['*', 'pay', 'day', h2 * 1000, 0.3],
      ['shop', '', 'day', h2 * 1000, 0.5],
    ],
  );
  close(over[2]!.spent_usd, 6 * INTERNET);
  // Each overrun once: a window after the crossing has none, a window holding it has the same id.
  assert.deepEqual(await budgetOverruns(q, db, { from: (h2 + 3600) * 1000, to: end }), []);
  const again = await budgetOverruns(q, db, { from: h2 * 1000, to: (h2 + 3600) * 1000 });
  assert.deepEqual(again.map((o) => o.id), [over[1]!.id, over[2]!.id]);
  // Budget status of a later day: nothing spent yet.
  const today = await budgetStatus(q, db, { at: end + 3600_000 });
  assert.ok(today.filter((b) => b.period === 'day').every((b) => b.spent_usd === 0 && !b.over) || today.length === 0);
  // A budget raised above the spend (a later row) no longer fires; usd 0 removes one.
  await s.client.insert({ table: 'bud.budgets', format: 'JSONEachRow', values: [{ cluster: '*', namespace: 'shop', period: 'day', usd: 1 }, { cluster: 'test', namespace: 'data', period: 'day', usd: 0 }, { cluster: '*', namespace: '*', label_key: 'team', label_value: 'pay', period: 'day', usd: 0 }], clickhouse_settings: { insert_deduplication_token: '' } });
  // data falls back to the '*' row (1.0 > 0.45).
  assert.deepEqual(await budgetOverruns(q, db, { from: day0 * 1000, to: end }), []);
});

test('chargeback labels in the rollups: cost per label value equals bytes x price of the pods with that value; pods without it are the rest; raw rows are copied once into the label rollup', async () => {
  const s = await store('lab');
  const q = clientQuery(s.client);
  const db = '`lab`';
  const h = hourAgo(3);
  const late = hourAgo(12 * 24); // older than 11 days: the sink feeds the rollups from the message's own rows
  let off = 0;
  const f = (labels: Record<string, string>, p: Parameters<typeof flowRow>[0]) => flowRow({ local_labels: labels, src_offset: off++, time: h, ...p });
  await s.insertFlows([
    // team=pay: 2 GiB internet (0.09) + 1 GiB cross-zone both ways (0.01 + 0.01) + 1 GiB internet through the NAT gateway (0.09 + 0.045 x 2)
    f({ team: 'pay', env: 'prod' }, { local_workload: 'api', egress_bytes: 2 * GiB, ingress_bytes: 0 }),
    f({ team: 'pay', env: 'prod' }, { local_workload: 'api', class: 'cross_zone', egress_bytes: GiB, ingress_bytes: GiB }),
    f({ team: 'pay' }, { local_workload: 'worker', nat_gateway: true, egress_bytes: GiB, ingress_bytes: GiB }),
    // team=search: 3 GiB internet
    f({ team: 'search' }, { local_workload: 'index', egress_bytes: 3 * GiB, ingress_bytes: 0 }),
    // no labels: 5 GiB internet
    f({}, { local_workload: 'legacy', egress_bytes: 5 * GiB, ingress_bytes: 0 }),
  ]);
  await s.insertFlows([f({ team: 'search' }, { local_workload: 'index', time: late, egress_bytes: 4 * GiB, ingress_bytes: 0 })]);
  const want = {
    pay: 2 * 0.09 + 0.02 + 0.09 + 2 * 0.045,
    search: 3 * 0.09 + 4 * 0.09,
    rest: 5 * 0.09,
  };
  const check = async () => {
    const team = await costByLabel(q, db, { key: 'team' });
    assert.deepEqual(team.map((t) => [t.value, t.egress_bytes]), [['search', 7 * GiB], ['pay', 4 * GiB], [null, 5 * GiB]]);
    close(team[0]!.total_usd, want.search, 'search');
    close(team[1]!.total_usd, want.pay, 'pay');
    close(team[1]!.nat_usd, 2 * 0.045, 'pay NAT');
    close(team[2]!.total_usd, want.rest, 'no team label');
    const env = await costByLabel(q, db, { key: 'env' });
    assert.deepEqual(env.map((t) => [t.value, t.egress_bytes]), [['prod', 3 * GiB], [null, 13 * GiB]]);
    close(env[0]!.total_usd, 2 * 0.09 + 0.02, 'env=prod');
    // The period: only the recent hour.
    const recent = await costByLabel(q, db, { key: 'team', from: (h - 3600) * 1000 });
    close(recent.find((t) => t.value === 'search')!.total_usd, 3 * 0.09, 'search, recent');
  };
  await check();
  // A replay of the migration (label rollup not empty) copies nothing; on an empty label rollup it copies the raw rows once.
  await s.client.command({ query: 'ALTER TABLE lab.schema_migrations DELETE WHERE version >= 53 SETTINGS mutations_sync = 2' });
  await s.migrate();
  await check();
  await s.client.command({ query: 'TRUNCATE TABLE lab.label_hourly' });
  await s.client.command({ query: 'ALTER TABLE lab.schema_migrations DELETE WHERE version >= 53 SETTINGS mutations_sync = 2' });
  await s.migrate();
  await check();
});

test('top destinations per workload: external ones by country and ASN, cloud services by service, in-cluster ones by the Service addressed; each byte once; answers to clients are not destinations', async () => {
  const s = await store('top');
  const t = hourAgo(3);
  let off = 0;
  const r = (p: Parameters<typeof flowRow>[0]) => flowRow({ time: t, src_offset: off++, ...p });
  const MiB = 2 ** 20;
  await s.insertFlows([
    // shop/web: 5 MiB to SE (two flows, one destination), 3 MiB to S3 (AWS's country and ASN too), 2 MiB to Service data/db cross-zone.
    r({ egress_bytes: 3 * MiB, remote_country: 'SE', remote_asn: 29518, remote_as_org: 'Bredband2', remote_ip: '81.2.69.1' }),
    r({ egress_bytes: 2 * MiB, remote_country: 'SE', remote_asn: 29518, remote_as_org: 'Bredband2', remote_ip: '81.2.69.9' }),
    r({ egress_bytes: 3 * MiB, class: 'cloud_service', priced_as: 'cloud_service', cloud_service: 'S3', cloud_service_region: 'us-east-1', remote_country: 'US', remote_asn: 16509, remote_as_org: 'AMAZON-02', remote_ip: '52.216.1.1' }),
    r({ egress_bytes: 2 * MiB, class: 'cross_zone', priced_as: 'cross_zone', remote_kind: 'POD', remote_namespace: 'data', remote_workload: 'db', remote_country: '', remote_asn: 0, remote_as_org: '', remote_ip: '10.1.0.7', service: 'data/db' }),
    // shop/web in-cluster to a pod IP, no Service: no destination listed (1 MiB).
    r({ egress_bytes: MiB, class: 'same_zone', priced_as: 'same_zone', remote_kind: 'POD', remote_country: '', remote_asn: 0, remote_as_org: '', remote_ip: '10.1.0.8' }),
    // data/db answering shop/web through the Service: a RESPONDER row, not a destination of data/db.
    r({ local_namespace: 'data', local_workload: 'db', role: 'RESPONDER', egress_bytes: 7 * MiB, class: 'cross_zone', priced_as: 'cross_zone', remote_kind: 'POD', remote_country: '', remote_asn: 0, remote_as_org: '', remote_ip: '10.0.0.1', service: 'data/db' }),
  ]);
  const q = clientQuery(s.client);
  const top = await topDestinations(q, `\`${s.database}\``, { from: (t - 3600) * 1000, to: (t + 3600) * 1000, perWorkload: 5 });
  assert.deepEqual(
    top.map((d) => [`${d.namespace}/${d.workload}`, d.class, d.country, d.asn, d.cloud_service, d.service, d.ip, d.egress_bytes, d.flows]),
    [
      ['shop/web', 'internet', 'SE', 29518, '', '', '81.2.69.1', 5 * MiB, 2],
      ['shop/web', 'cloud_service', '', 0, 'S3', '', '', 3 * MiB, 1],
      ['shop/web', 'cross_zone', '', 0, '', 'data/db', '', 2 * MiB, 1],
    ],
  );
  // The world map's question (internet egress by country) is unchanged: S3 is not in it.
  const countries = await rows<{ country: string; eb: string }>(s, `SELECT country, toString(sum(egress_bytes)) AS eb FROM ${s.database}.destinations_top_hourly WHERE class = 'internet' GROUP BY country`);
  assert.deepEqual(countries, [{ country: 'SE', eb: String(5 * MiB) }]);
});
