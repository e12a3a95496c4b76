// One chDB data directory for this file (chDB binds one directory per process; node --test
// runs each file in its own process). Tests isolate themselves by database.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '@tollgate/log';
import { chdbArrowProblem, openStore, type Store } from './store.ts';
import { flowRow, GiB, hourAgo, MiB } from './testing.ts';
import { fromViews } from '@tollgate/schema';
import { columnsOf, encodeFlowRows, encodeRollupRows, flowColumns, formatRollupRow, rollupBlock, rowBlock, toFlowRows, type FlowRow } from './rows.ts';
import { FLOW_TABLE, rollupColumns } from './flows-table.ts';

const logger = createLogger('silent');
const dataDir = mkdtempSync(join(tmpdir(), 'tollgate-ch-store-'));
const stores: Store[] = [];

async function store(database: string): Promise<Store> {
  const s = await openStore({ url: '', user: 'default', password: '', database, dataDir }, logger);
  stores.push(s);
  await s.migrate();
  return s;
}

async function rows<T>(s: Store, sql: string): Promise<T[]> {
  return (await s.client.query({ query: sql, format: 'JSONEachRow' })).json<T>();
}

after(async () => {
  for (const s of stores) await s.close();
  rmSync(dataDir, { recursive: true, force: true });
});

const close = (a: number, b: number, msg?: string) => assert.ok(Math.abs(a - b) < 1e-9, `${msg ?? ''} ${a} != ${b}`);

test('migrations: idempotent, a replay adds no seed rows and keeps a user price edit; an already-migrated store migrates nothing', async () => {
  const s = await openStore({ url: '', user: 'default', password: '', database: 'mig', dataDir }, logger);
  stores.push(s);
  assert.deepEqual((await s.migrate()).slice(0, 4), ['0001_flows', '0002_rollups', '0003_prices', '0004_anomalies']);
  assert.deepEqual(await s.migrate(), []);
  const schema = () => rows<{ name: string; q: string }>(s, "SELECT name, create_table_query AS q FROM system.tables WHERE database = 'mig' ORDER BY name");
  const counts = async () =>
    (
      await rows<Record<string, string>>(
        s,
        'SELECT toString((SELECT count() FROM mig.prices)) AS prices, toString((SELECT count() FROM mig.suspicious_ports)) AS ports, toString((SELECT count() FROM mig.anomaly_settings)) AS settings',
      )
    )[0];
  const before = await schema();
  assert.ok(before.some((t) => t.name === 'flows') && before.some((t) => t.name === 'anomalies') && before.some((t) => t.name === 'workload_cost_hourly'));
  assert.deepEqual(await counts(), { prices: '9', ports: '12', settings: '8' });

  // A user raises the AWS internet price; then the migrations replay (as after a crash before they were recorded).
  await s.client.command({ query: "INSERT INTO mig.prices (cloud, region, class, direction, usd_per_gib) VALUES ('aws', '*', 'internet', 'egress', 0.5)" });
  await s.client.command({ query: 'TRUNCATE TABLE mig.schema_migrations' });
  assert.deepEqual((await s.migrate()).slice(0, 4), ['0001_flows', '0002_rollups', '0003_prices', '0004_anomalies']);
  assert.deepEqual(await schema(), before);
  assert.deepEqual(await counts(), { prices: '10', ports: '12', settings: '8' });
  const price = await rows<{ p: number }>(s, "SELECT egress_usd_per_gib AS p FROM mig.prices_current WHERE cloud = 'aws' AND region = '*' AND class = 'internet'");
  assert.deepEqual(price, [{ p: 0.5 }]);

  await s.close();
  const again = await openStore({ url: '', user: 'default', password: '', database: 'mig', dataDir }, logger);
  stores.push(again);
  assert.deepEqual(await again.migrate(), []);
  assert.deepEqual(await rows(again, "SELECT name, create_table_query AS q FROM system.tables WHERE database = 'mig' ORDER BY name"), before);
});

test('the engine\'s flows and rollup_input columns (system.columns after the migrations) are flows-table.ts\'s', async () => {
  const s = await store('cols');
  const cols = (table: string) =>
    rows<{ name: string; type: string; codec: string }>(s, `SELECT name, type, compression_codec AS codec FROM system.columns WHERE database = 'cols' AND table = '${table}' ORDER BY position`);
  // The engine spells codecs with their defaults (Delta -> Delta(4)): compared by presence.
  assert.deepEqual(
    (await cols('flows')).map((c) => [c.name, c.type, c.codec !== '']),
    FLOW_TABLE.map((c) => [c.name, c.type, c.codec !== undefined]),
  );
  assert.deepEqual((await cols('rollup_input')).map((c) => `${c.name} ${c.type}`).sort(), rollupColumns().map((c) => `${c.name} ${c.type}`).sort());
});

test('bad database name is a ConfigError naming the setting', async () => {
  await assert.rejects(openStore({ url: '', user: '', password: '', database: 'x; DROP', dataDir }, logger), /TOLLGATE_CLICKHOUSE_DATABASE/);
  const file = join(tmpdir(), `tollgate-not-a-dir-${process.pid}`);
  writeFileSync(file, '');
  await assert.rejects(openStore({ url: '', user: '', password: '', database: 'tg', dataDir: join(file, 'chdb') }, logger), /TOLLGATE_DATA_DIR: cannot create or write/);
  rmSync(file);
});

test('the installed chdb has the Arrow insert\'s functions; a chdb without them is named at open', () => {
  assert.equal(chdbArrowProblem(), undefined);
  assert.match(chdbArrowProblem({ Session: class {}, _arrowUnregister: () => {} }) ?? '', /^the installed chdb has no _arrowRegisterColumns: /);
  assert.match(chdbArrowProblem(null) ?? '', /has no Session, _arrowRegisterColumns, _arrowUnregister/);
});

test('an unreachable server is a ConfigError naming TOLLGATE_CLICKHOUSE_URL, without the password', async () => {
  const err = await openStore({ url: 'http://127.0.0.1:1', user: 'u', password: 's3cret-pw', database: 'tg', dataDir }, logger).then(
    () => assert.fail('opened'),
    (e: Error) => e,
  );
  assert.match(err.message, /^TOLLGATE_CLICKHOUSE_URL: ClickHouse at http:\/\/127\.0\.0\.1:1\/ is unreachable/);
  assert.doesNotMatch(err.message, /s3cret-pw/);
  await assert.rejects(openStore({ url: 'tcp://x:9000', user: '', password: '', database: 'tg', dataDir }, logger), /TOLLGATE_CLICKHOUSE_URL: tcp:\/\/x:9000: only http/);
});

test('a store directory held by another process is a ConfigError naming TOLLGATE_DATA_DIR', async () => {
  await store('lock');
  const script = `
    import { openStore } from ${JSON.stringify(new URL('./store.ts', import.meta.url).href)};
    import { createLogger } from '@tollgate/log';
    try {
      await openStore({ url: '', user: '', password: '', database: 'lock', dataDir: ${JSON.stringify(dataDir)} }, createLogger('silent'));
      console.log('opened');
    } catch (err) {
      console.log(err.name + ': ' + err.message);
    }`;
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: process.cwd(), stdio: ['ignore', 'pipe', 'ignore'] }).toString();
  assert.match(out, /^ConfigError: TOLLGATE_DATA_DIR: cannot open the embedded store in .*another tollgate process probably owns it/);
});

test('costs: bytes x seed price (class, region fallback, NAT on both directions); a price change re-prices history', async () => {
  const s = await store('cost');
  const h = hourAgo(3);
  const a = { local_namespace: 'shop', local_workload: 'api', time: h, cloud: 'aws', local_region: 'us-east-1' };
  const g = { local_namespace: 'data', local_workload: 'etl', local_workload_kind: 'CronJob', time: h + 60, cloud: 'gcp', local_region: 'europe-west1' };
  const input: FlowRow[] = [
    flowRow({ ...a, class: 'cross_zone', role: 'RESPONDER', egress_bytes: 2 * GiB, ingress_bytes: GiB, src_offset: 1 }),
    flowRow({ ...a, class: 'internet', nat_gateway: true, egress_bytes: 3 * GiB, ingress_bytes: GiB, src_offset: 2 }),
    flowRow({ ...a, class: 'same_zone', egress_bytes: 7 * GiB, ingress_bytes: 7 * GiB, src_offset: 3 }),
    flowRow({ ...g, class: 'internet', egress_bytes: GiB, ingress_bytes: 4 * GiB, src_offset: 4 }),
    flowRow({ ...g, class: 'cross_zone', egress_bytes: GiB / 2, ingress_bytes: GiB, src_offset: 5 }),
  ];
  await s.insertFlows(input);

  const cost = await s.costByWorkload();
  assert.deepEqual(
    cost.map((w) => [w.namespace, w.workload_kind, w.workload]),
    [
      ['shop', 'Deployment', 'api'],
      ['data', 'CronJob', 'etl'],
    ],
  );
  const [api, etl] = cost;
  // api: cross_zone 2 GiB x 0.01 + 1 GiB x 0.01; internet 3 GiB x 0.09, NAT (3 + 1) GiB x 0.045; same_zone free.
  close(api!.egress_usd, 0.02 + 0.27);
  close(api!.ingress_usd, 0.01);
  close(api!.nat_usd, 0.18);
  close(api!.total_usd, 0.48);
  assert.equal(api!.egress_bytes, 12 * GiB);
  assert.deepEqual(
    api!.classes.map((c) => [c.class, c.egress_bytes, c.ingress_bytes]),
    [
      ['internet', 3 * GiB, GiB],
      ['cross_zone', 2 * GiB, GiB],
      ['same_zone', 7 * GiB, 7 * GiB],
    ],
  );
  // etl (gcp): internet 1 GiB x 0.12, cross_zone 0.5 GiB x 0.01 egress, gcp ingress not priced.
  close(etl!.total_usd, 0.12 + 0.005);
  close(etl!.ingress_usd, 0);
  const totals = await s.costTotals();
  close(totals.total_usd, 0.48 + 0.125);
  assert.equal(totals.egress_bytes, 12 * GiB + 1.5 * GiB);
  assert.deepEqual((await s.costByWorkload({ top: 1 })).length, 1);
  assert.deepEqual(await s.costByWorkload({ to: (h - 3600) * 1000 }), []);

  // Re-pricing: AWS internet egress to 0.10 everywhere, and cross_zone egress 0.02 in us-east-1 only (ingress keeps '*').
  await s.client.command({
    query:
      "INSERT INTO cost.prices (cloud, region, class, direction, usd_per_gib) VALUES ('aws', '*', 'internet', 'egress', 0.10), ('aws', 'us-east-1', 'cross_zone', 'egress', 0.02)",
  });
  const repriced = (await s.costByWorkload())[0]!;
  close(repriced.egress_usd, 2 * 0.02 + 3 * 0.1);
  close(repriced.ingress_usd, 0.01);
  close(repriced.nat_usd, 0.18);
  close(repriced.total_usd, 0.04 + 0.3 + 0.01 + 0.18);
});

test('rows stored twice are stored once, in flows and in every rollup', async () => {
  const s = await store('dedup');
  const batch = Array.from({ length: 50 }, (_, i) =>
    flowRow({ time: hourAgo(i % 3), egress_bytes: 100 + i, ingress_bytes: 1, src_partition: 2, src_offset: 10 + Math.floor(i / 10) }),
  );
  await s.insertFlows(batch);
  await s.insertFlows(batch);
  const more = [flowRow({ egress_bytes: 7, ingress_bytes: 0, src_partition: 2, src_offset: 15 }), flowRow({ egress_bytes: 1, ingress_bytes: 0, src_partition: 0, src_offset: 3 })];
  await s.insertFlows(more);
  await s.insertFlows(more);

  const egress = 50 * 100 + (49 * 50) / 2 + 8;
  assert.deepEqual(await rows(s, 'SELECT toString(count()) AS n, toString(sum(egress_bytes)) AS e FROM dedup.flows'), [{ n: '52', e: String(egress) }]);
  assert.deepEqual(await s.bytesByWorkloadClass(), [{ namespace: 'shop', workload_kind: 'Deployment', workload: 'web', class: 'internet', egress_bytes: egress, ingress_bytes: 50 }]);
  assert.deepEqual(await rows(s, 'SELECT toString(sum(egress_bytes)) AS e, toString(sum(flows)) AS f FROM dedup.destinations_hourly'), [{ e: String(egress), f: '52' }]);
});

test('anomalies: mining port, new country and ASN after a baseline, a trickle baseline does not make a country known; not for a country known 3 days ago, a responder, a learning workload, or under the minimum', async () => {
  const s = await store('anom');
  const T = hourAgo(1);
  const D = 86_400;
  let off = 0;
  const web = (p: Partial<FlowRow>) => flowRow({ local_namespace: 'shop', local_workload: 'web', src_offset: off++, ...p });
  const input: FlowRow[] = [
    // web's history: GB regularly, CA 8 days before T (outside the 7-day baseline), SE 3 days before (tiny).
    web({ time: T - 8 * D, remote_country: 'GB', egress_bytes: 2 * MiB }),
    web({ time: T - 8 * D, remote_country: 'CA', remote_ip: '2001:db8::7', family: 'IPV6', egress_bytes: 2 * MiB }),
    web({ time: T - 5 * D, remote_country: 'GB', egress_bytes: 2 * MiB }),
    web({ time: T - 3 * D, remote_country: 'SE', egress_bytes: 100 }),
    web({ time: T - 3 * D, remote_country: 'NO', egress_bytes: 2 * MiB }),
    web({ time: T - 2 * D, remote_country: 'GB', egress_bytes: 2 * MiB }),
    // hour T
    web({ time: T + 10, remote_country: 'US', remote_ip: '8.8.4.4', remote_asn: 15169, egress_bytes: 5 * MiB }),
    web({ time: T + 20, remote_country: 'CA', remote_ip: '2001:db8::7', family: 'IPV6', egress_bytes: 2 * MiB }),
    web({ time: T + 30, remote_country: 'GB', egress_bytes: 5 * MiB }),
    web({ time: T + 40, remote_country: 'SE', egress_bytes: 5 * MiB }),
    web({ time: T + 45, remote_country: 'NO', egress_bytes: 5 * MiB }),
    web({ time: T + 50, remote_country: 'DE', egress_bytes: 100 * 1024 }),
    web({ time: T + 60, remote_country: 'FR', role: 'RESPONDER', local_port: 443, remote_port: 51000, egress_bytes: 50 * MiB }),
    // fresh: first traffic 3 h before T, a new country at T: still learning.
    flowRow({ local_workload: 'fresh', time: T - 3 * 3600, remote_country: 'GB', egress_bytes: 2 * MiB, src_offset: off++ }),
    flowRow({ local_workload: 'fresh', time: T + 5, remote_country: 'JP', egress_bytes: 9 * MiB, src_offset: off++ }),
    // batch: a mining pool port on the internet.
    flowRow({ local_workload: 'batch', local_workload_kind: 'Job', time: T + 7, remote_country: 'NL', remote_asn: 1136, remote_ip: '81.2.69.160', remote_port: 3333, egress_bytes: 4000, src_offset: off++ }),
    // spiky: its busiest hour of the baseline week sent 5 MiB, then 200 MiB in hour T to a known country.
    flowRow({ local_workload: 'spiky', time: T - 8 * D, remote_country: 'GB', egress_bytes: MiB, src_offset: off++ }),
    flowRow({ local_workload: 'spiky', time: T - 3 * D, remote_country: 'GB', egress_bytes: 5 * MiB, src_offset: off++ }),
    flowRow({ local_workload: 'spiky', time: T + 9, remote_country: 'GB', egress_bytes: 200 * MiB, src_offset: off++ }),
    // nightly: a daily 150 MiB upload, then 160 MiB: its own earlier runs are the baseline, not the idle hours.
    ...[8, 6, 5, 4, 3, 2, 1].map((d) => flowRow({ local_workload: 'nightly', time: T - d * D, remote_country: 'GB', egress_bytes: 150 * MiB, src_offset: off++ })),
    flowRow({ local_workload: 'nightly', time: T + 11, remote_country: 'GB', egress_bytes: 160 * MiB, src_offset: off++ }),
    // in-cluster traffic on 3333 is not a mining pool.
    flowRow({ local_workload: 'batch', local_workload_kind: 'Job', time: T + 8, class: 'same_zone', remote_kind: 'POD', remote_country: '', remote_port: 3333, src_offset: off++ }),
  ];
  await s.insertFlows(input);

  const found = await s.anomalyRows();
  const key = (r: { rule: string; workload: string; country: string; port: number; window_start: number }) =>
    `${r.rule} ${r.workload} ${r.country} ${r.port} ${(r.window_start / 1000 - T) / 3600}h`;
  assert.deepEqual(found.map(key).sort(), ['MINING_PORT batch NL 3333 0h', 'NEW_ASN web US 443 0h', 'NEW_COUNTRY web CA 443 0h', 'NEW_COUNTRY web NO 443 -72h', 'NEW_COUNTRY web SE 443 0h', 'NEW_COUNTRY web US 443 0h', 'VOLUME_SPIKE spiky  0 0h']);
  const spike = found.find((r) => r.rule === 'VOLUME_SPIKE')!;
  assert.deepEqual([spike.bytes, spike.baseline_bytes, spike.score, spike.severity], [200 * MiB, 5 * MiB, 40, 'HIGH']);
  const us = found.find((r) => r.country === 'US' && r.rule === 'NEW_COUNTRY')!;
  assert.deepEqual(
    { ...us, id: us.id.length },
    {
      id: 32,
      window_start: T * 1000,
      window_end: (T + 3600) * 1000,
      cluster: 'test',
      namespace: 'shop',
      workload_kind: 'Deployment',
      workload: 'web',
      rule: 'NEW_COUNTRY',
      country: 'US',
      asn: 15169,
      ip: '8.8.4.4',
      port: 443,
      bytes: 5 * MiB,
      baseline_bytes: 0,
      score: 5,
      severity: 'MEDIUM',
    },
  );
  const mining = found.find((r) => r.rule === 'MINING_PORT')!;
  assert.equal(mining.severity, 'CRITICAL');
  assert.equal(mining.asn, 1136);
  assert.equal(mining.bytes, 4000);
  assert.equal(found.find((r) => r.country === 'CA')!.ip, '2001:db8::7');
  // ids are stable across queries and distinct.
  assert.deepEqual((await s.anomalyRows()).map((r) => r.id), found.map((r) => r.id));
  assert.equal(new Set(found.map((r) => r.id)).size, 7);

  // Expected countries for web: everything else it talks to is UNEXPECTED_COUNTRY (any volume by default).
  await s.client.command({ query: "INSERT INTO anom.expected_countries (namespace, workload, countries) VALUES ('shop', 'web', ['GB', 'NO', 'SE', 'US'])" });
  const unexpected = (await s.anomalyRows()).filter((r) => r.rule === 'UNEXPECTED_COUNTRY');
  assert.deepEqual(unexpected.map(key).sort(), ['UNEXPECTED_COUNTRY web CA 443 -192h', 'UNEXPECTED_COUNTRY web CA 443 0h', 'UNEXPECTED_COUNTRY web DE 443 0h']);

  // Grouped report: one line per workload, rule and destination.
  const groups = await s.anomalies({ from: (T - 3600) * 1000 });
  assert.deepEqual(
    groups.map((g) => [g.severity, g.rule, g.workload, g.country, g.port, g.hours]),
    [
      ['CRITICAL', 'MINING_PORT', 'batch', 'NL', 3333, 1],
      ['HIGH', 'VOLUME_SPIKE', 'spiky', '', 0, 1],
      ['HIGH', 'UNEXPECTED_COUNTRY', 'web', 'CA', 0, 1],
      ['HIGH', 'UNEXPECTED_COUNTRY', 'web', 'DE', 0, 1],
      ['MEDIUM', 'NEW_ASN', 'web', 'US', 0, 1],
      ['MEDIUM', 'NEW_COUNTRY', 'web', 'SE', 0, 1],
      ['MEDIUM', 'NEW_COUNTRY', 'web', 'US', 0, 1],
      ['MEDIUM', 'NEW_COUNTRY', 'web', 'CA', 0, 1],
    ],
  );
});

test('flowColumns (the sink hot path) and encodeFlowRows hold exactly what toFlowRows() gives; encodeRollupRows folds the rollup_input rows', () => {
  const views = [1, 2, 3].map((i) => ({
    time: 1_700_000_000_000 + i, conntrack_id: i, protocol: 6, family: 'IPV4' as const, role: 'INITIATOR' as const,
    local: { ip: `10.0.0.${i}`, port: 40000 + i, kind: 'POD' as const, cluster: 'c', namespace: 'ns', workload_kind: 'Deployment', workload: 'w', pod: `w-${i % 2}`, node: 'n1', zone: 'a', region: 'r', country: '', asn: 0, as_org: '', service: '', labels: {} },
    remote: i === 3
      ? { ip: '52.216.1.1', port: 443, kind: 'EXTERNAL' as const, cluster: '', namespace: '', workload_kind: '', workload: '', pod: '', node: '', zone: '', region: 'us-east-1', country: 'US', asn: 16509, as_org: 'AMAZON-02', service: 'S3', labels: {} }
      : { ip: i === 1 ? '' : '2001:db8::1%eth0', port: 443, kind: 'EXTERNAL' as const, cluster: '', namespace: '', workload_kind: '', workload: '', pod: '', node: '', zone: '', region: '', country: 'SE', asn: 29518, as_org: 'Bredband2 "AB"', service: '', labels: {} },
    class: i === 3 ? ('CLOUD_SERVICE' as const) : ('INTERNET' as const), cloud: 'aws', cloud_service: i === 3 ? 'S3' : '', cloud_service_region: i === 3 ? 'us-east-1' : '', service: i === 2 ? 'shop/api' : '', nat_gateway: i !== 3,
    egress_bytes: i === 2 ? 2 ** 40 + 7 : 1000 * i, ingress_bytes: i === 1 ? 0 : 10 * i, egress_packets: i, ingress_packets: i === 3 ? 9_007_199_254_740_991 : i,
  }));
  views[0]!.conntrack_id = 4_294_967_295;
  // 4: flow 1 again, later in the hour, from another local port: its rollup values are flow 1's.
  const [v1, v2] = views as [(typeof views)[0], (typeof views)[0]];
  views.push({ ...v1, time: v1.time + 1_800_000, conntrack_id: 4, local: { ...v1.local, port: 40004 }, egress_bytes: 2 ** 52, ingress_bytes: 44, egress_packets: 4, ingress_packets: 4 });
  // 5: an answer to a client (RESPONDER): not a destination row.
  views.push({ ...v2, conntrack_id: 5, role: 'RESPONDER' as 'INITIATOR', remote: { ...v2.remote, ip: '2001:db8::5', port: 51000 } });
  const batch = fromViews({ cluster: 'c', node: 'n1', window_start: 1_700_000_000_000, window_end: 1_700_000_003_600_000, source: { agent_id: 'a', seq: 1, topic: 'flows.raw.v1', partition: 0, offset: 9 } }, views);
  assert.equal(batch.endpoints.length, 4, 'endpoints are listed once');
  const src = { topic: 'flows.enriched.v1', partition: 2, offset: 77 };
  assert.deepEqual(encodeFlowRows(batch, src), rowBlock(toFlowRows(batch, src)));
  const rows = toFlowRows(batch, src);
  assert.deepEqual(flowColumns(batch, src), columnsOf(rows));
  const enc = { rollup: encodeRollupRows(batch, src) };
  // rollup_input: one row per distinct rollup value (the time to the hour, the remote columns
  // only on destination rows), bytes and packets summed, the weight last. Flows 1 and 4 fold; 5
  // (RESPONDER) keeps no remote value.
  const line = (r: FlowRow, n: number) => formatRollupRow({ ...r, time: Math.floor(r.time / 3600) * 3600 }).replace(/\t1$/, `\t${n}`);
  const [r1, r2, r3, r4, r5] = rows as [FlowRow, FlowRow, FlowRow, FlowRow, FlowRow];
  const sum = { egress_bytes: r1.egress_bytes + r4.egress_bytes, ingress_bytes: r1.ingress_bytes + r4.ingress_bytes, egress_packets: r1.egress_packets + r4.egress_packets, ingress_packets: r1.ingress_packets + r4.ingress_packets };
  const blank = { remote_ip: '::', remote_port: 0, remote_country: '', remote_asn: 0, remote_as_org: '' };
  assert.deepEqual(enc.rollup, { body: `${[line({ ...r1, ...sum }, 2), line(r2, 1), line(r3, 1), line({ ...r5, ...blank }, 1)].join('\n')}\n`, rows: 4 });
  assert.equal(rollupBlock(rows).rows, 5);
  assert.equal(encodeFlowRows(batch, src).rows, 5);
  assert.equal(toFlowRows(batch, src)[2]!.cloud_service, 'S3');
  assert.throws(() => encodeFlowRows({ ...batch, flows: [{ ...batch.flows[0]!, remote: 9 }] }, src), /outside the batch/);
  assert.throws(() => flowColumns({ ...batch, flows: [{ ...batch.flows[0]!, remote: 9 }] }, src), /outside the batch/);
});
