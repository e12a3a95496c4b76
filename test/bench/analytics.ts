// Analytics benchmark (issue 8): 20 million raw flows over 30 days in chDB, rolled up as the sink
// rolls them up, then two questions, each answered from the views (what `tollgate report`, the
// alerts and Superset read) and, as the same-run baseline, from the raw flows table:
//   report_query_ms_30d    per-workload daily cost over 30 days (workload_cost_daily) vs the same
//                          sum of bytes x price over flows;
//   anomaly_query_ms_30d   the anomalies of 30 days (anomalies_window: one flat query, 0059, over anomaly_settings,
//                          suspicious_ports, expected_countries, destination_keys_daily, workload_egress_hourly,
//                          destinations_hourly and workload_hourly) vs the same query over raw flows (those
//                          rollups as plain views aggregating flows: every rule judged from raw rows).
// Median of 3 runs after a warm-up, each question's runs interleaved with its baseline's. Targets: under 500 ms and at least 20x faster than the raw scan.
//
//   node test/bench/analytics.ts          (standalone; `npm run bench` runs it too)
//   node test/bench/analytics.ts anomaly  (one section: `report` or `anomaly`; the load is the same)
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger, type Logger } from '@tollgate/log';
import { DEFAULT_MIGRATIONS_DIR, loadMigrations, openStore, ROLLUP_COLUMNS } from '@tollgate/clickhouse';

const ROWS = Number(process.env.TOLLGATE_BENCH_ANALYTICS_ROWS || 20_000_000);
const WORKLOADS = 60;
const DAY_S = 86_400;

export interface AnalyticsFigures {
  analytics_rows: number;
  analytics_load_s: number;
  report_query_ms_30d: number;
  report_query_raw_ms_30d: number;
  report_query_speedup: number;
  anomaly_query_ms_30d: number;
  anomaly_query_raw_ms_30d: number;
  anomaly_query_speedup: number;
  analytics_meets_target: boolean;
}

/** The two questions; a run may measure one (its figures only, and the target judged on it). */
export const SECTIONS = ['report', 'anomaly'] as const;
export type Section = (typeof SECTIONS)[number];

const mid = (xs: number[]) => Math.round([...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!);

/**
 * The median of 3 runs of a question and of its raw baseline after a warm-up of each, the runs
 * interleaved (view, raw, view, raw, ...), so that the shared machine's load, which moves within
 * seconds, weighs on both alike.
 */
async function medianPair(fast: () => Promise<unknown>, raw: () => Promise<unknown>): Promise<[number, number]> {
  await fast();
  await raw();
  const f: number[] = [];
  const r: number[] = [];
  for (let i = 0; i < 3; i++) {
    for (const [run, into] of [[fast, f], [raw, r]] as const) {
      const t = performance.now();
      await run();
      into.push(performance.now() - t);
    }
  }
  return [mid(f), mid(r)];
}

export async function benchAnalytics(dataDir: string, logger: Logger, log: (s: string) => void): Promise<AnalyticsFigures> {
  return (await benchAnalyticsSections(dataDir, logger, log, SECTIONS)) as AnalyticsFigures;
}

export async function benchAnalyticsSections(dataDir: string, logger: Logger, log: (s: string) => void, sections: readonly Section[]): Promise<Partial<AnalyticsFigures>> {
  const store = await openStore({ url: '', user: 'default', password: '', database: 'bench_analytics', dataDir }, logger);
  try {
    await store.migrate();
    const db = '`bench_analytics`';
    // The raw baseline needs all 30 days in flows: lift the raw TTL (14 days by default) for this store.
    await store.client.command({ query: `ALTER TABLE ${db}.flows REMOVE TTL` });
    const now = Math.floor(Date.now() / 1000 / 3600) * 3600;
    const t0 = now - 30 * DAY_S + 3600;
    const span = 30 * DAY_S - 3600;
    let t = performance.now();
    // 20M flows in time order over 30 days: 60 workloads in 6 namespaces, five classes, five countries and ASNs.
    await store.client.command({
      query: `INSERT INTO ${db}.flows (time, cluster, role, local_namespace, local_workload_kind, local_workload, local_region, remote_ip,
                remote_port, remote_country, remote_asn, remote_as_org, class, cloud, nat_gateway, egress_bytes, ingress_bytes, src_topic, src_partition, src_offset)
              SELECT toDateTime({t0:UInt32} + intDiv(number * {span:UInt64}, {n:UInt64}), 'UTC'), 'bench', if(number % 4 = 0, 'RESPONDER', 'INITIATOR'),
                concat('ns', toString(w % 6)), 'Deployment', concat('wl', toString(w)), 'us-east-1',
                toIPv6(concat('::ffff:81.2.', toString(intDiv(number, 7) % 50), '.', toString(number % 200 + 1))), 443,
                ['US', 'SE', 'GB', 'DE', 'JP'][intDiv(number, 11) % 5 + 1], [209, 29518, 20712, 3320, 2516][intDiv(number, 11) % 5 + 1], 'org',
                ['internet', 'cross_zone', 'same_zone', 'cross_region', 'cloud_service'][number % 5 + 1], 'aws', number % 5 = 0,
                1000 + number % 100000, 500 + number % 7000, 'bench', 0, number
              FROM (SELECT number, number % ${WORKLOADS} AS w FROM numbers({n:UInt64}))
              SETTINGS insert_deduplicate = 0, max_insert_threads = 2`,
      query_params: { t0, span, n: ROWS },
    });
    // Planted anomalies, so that both answers have rows to agree on: wl7 opens 8 MiB to a country
    // and an ASN it never used (NEW_COUNTRY, NEW_ASN), wl8 reaches a mining pool's port (MINING_PORT).
    await store.client.command({
      query: `INSERT INTO ${db}.flows (time, cluster, role, local_namespace, local_workload_kind, local_workload, local_region, remote_ip,
                remote_port, remote_country, remote_asn, remote_as_org, class, cloud, nat_gateway, egress_bytes, ingress_bytes, src_topic, src_partition, src_offset)
              SELECT toDateTime({at:UInt32} - number * 3600, 'UTC'), 'bench', 'INITIATOR', concat('ns', toString({w:UInt32} % 6)), 'Deployment',
                concat('wl', toString({w:UInt32} + number)), 'us-east-1', toIPv6('::ffff:175.45.176.1'), if(number = 0, 443, 3333),
                if(number = 0, 'KP', 'US'), if(number = 0, 131279, 209), 'planted', 'internet', 'aws', false, 8388608, 1000, 'bench', 1, number
              FROM numbers(2) SETTINGS insert_deduplicate = 0`,
      query_params: { at: now - 2 * 3600, w: 7 },
    });
    const cols = ROLLUP_COLUMNS.join(', ');
    await store.client.command({ query: `INSERT INTO ${db}.rollup_input (${cols}) SELECT ${cols} FROM ${db}.flows SETTINGS insert_deduplicate = 0` });
    await store.client.command({ query: `OPTIMIZE TABLE ${db}.workload_hourly FINAL` });
    await store.client.command({ query: `OPTIMIZE TABLE ${db}.destinations_hourly FINAL` });
    await store.client.command({ query: `OPTIMIZE TABLE ${db}.workload_daily FINAL` });
    const loadS = (performance.now() - t) / 1000;
    const n = (await (await store.client.query({ query: `SELECT toString(count()) AS n FROM ${db}.flows`, format: 'JSONEachRow' })).json<{ n: string }>())[0]!.n;
    log(`analytics  ${Number(n).toLocaleString('en-US')} raw flows over 30 days loaded and rolled up in ${loadS.toFixed(1)} s`);
    t = performance.now();

    const q = async (sql: string, params: Record<string, unknown> = {}) => (await store.client.query({ query: sql, format: 'JSONEachRow', query_params: params })).json();
    const from = now - 30 * DAY_S;
    const report = () =>
      q(
        `SELECT day, cluster, namespace, workload_kind, workload, sum(total_usd) AS usd FROM ${db}.workload_cost_daily
         WHERE day >= toDate(toDateTime({from:UInt32}, 'UTC')) GROUP BY day, cluster, namespace, workload_kind, workload`,
        { from },
      );
    // The same question from raw flows: bytes x the price in force (specific region, else '*'; NAT on top).
    const reportRaw = () =>
      q(
        `SELECT toDate(f.time) AS day, f.cluster, f.local_namespace, f.local_workload_kind, f.local_workload,
                sum(f.egress_bytes / 1073741824 * if(ps.has_egress, ps.egress_usd_per_gib, pw.egress_usd_per_gib)
                  + f.ingress_bytes / 1073741824 * if(ps.has_ingress, ps.ingress_usd_per_gib, pw.ingress_usd_per_gib)
                  + if(f.nat_gateway, (f.egress_bytes * nw.egress_usd_per_gib + f.ingress_bytes * nw.ingress_usd_per_gib) / 1073741824, 0)) AS usd
         FROM ${db}.flows AS f
         LEFT JOIN ${db}.prices_current AS ps ON ps.cloud = f.cloud AND ps.region = f.local_region AND ps.class = f.class
         LEFT JOIN (SELECT * FROM ${db}.prices_current WHERE region = '*') AS pw ON pw.cloud = f.cloud AND pw.class = f.class
         LEFT JOIN (SELECT * FROM ${db}.prices_current WHERE class = 'nat_gateway' AND region = '*') AS nw ON nw.cloud = f.cloud
         WHERE f.time >= toDateTime({from:UInt32}, 'UTC')
         GROUP BY day, f.cluster, f.local_namespace, f.local_workload_kind, f.local_workload`,
        { from },
      );
    const anomalies = () => q(`SELECT rule, count() AS n, sum(bytes) AS b FROM ${db}.anomalies_window(from = {from:UInt32}, to = {to:UInt32}) GROUP BY rule`, { from, to: now });
    // The same question from raw flows: the same anomalies_window query (its text from the
    // migrations) in a database where the rollups it reads are plain views aggregating `flows`
    // as their materialized views do, so every rule is judged from raw rows. Both must give the
    // same anomalies.
    const raw = '`bench_analytics_raw`';
    await store.client.command({ query: `CREATE DATABASE IF NOT EXISTS ${raw}` });
    for (const t of ['anomaly_settings', 'suspicious_ports', 'expected_countries']) {
      await store.client.command({ query: `CREATE OR REPLACE VIEW ${raw}.${t} AS SELECT * FROM ${db}.${t}` });
    }
    const who = `cluster, local_namespace AS namespace, local_workload_kind AS workload_kind, local_workload AS workload`;
    const dest = `role = 'INITIATOR' AND class IN ('internet', 'private', 'direct', 'cloud_service')`;
    for (const v of [
      `workload_hourly AS SELECT toStartOfHour(time) AS hour, ${who}, sum(egress_bytes) AS egress_bytes FROM ${db}.flows GROUP BY hour, cluster, namespace, workload_kind, workload`,
      `workload_egress_hourly AS SELECT toStartOfHour(time) AS hour, ${who}, sum(egress_bytes) AS egress_bytes FROM ${db}.flows WHERE ${dest}
       GROUP BY hour, cluster, namespace, workload_kind, workload`,
      `destinations_hourly AS SELECT toStartOfHour(time) AS hour, ${who}, class, remote_country, remote_asn, remote_port,
         sum(egress_bytes) AS egress_bytes, count() AS flows, min(remote_ip) AS sample_ip FROM ${db}.flows WHERE ${dest}
       GROUP BY hour, cluster, namespace, workload_kind, workload, class, remote_country, remote_asn, remote_port`,
      `destination_keys_daily AS SELECT toDate(time) AS day, ${who}, k.1 AS key_kind, k.2 AS dest, sum(egress_bytes) AS egress_bytes, count() AS flows,
         min(toStartOfHour(time)) AS first_hour, max(toStartOfHour(time)) AS last_hour FROM ${db}.flows
       ARRAY JOIN arrayConcat([('traffic', '')], if(${dest}, arrayFilter(x -> x.2 NOT IN ('', '0'), [('country', remote_country), ('asn', toString(remote_asn))]), [])) AS k
       GROUP BY day, cluster, namespace, workload_kind, workload, key_kind, dest`,
    ]) {
      await store.client.command({ query: `CREATE OR REPLACE VIEW ${raw}.${v}` });
    }
    const latest = new Map<string, string>();
    for (const m of loadMigrations(DEFAULT_MIGRATIONS_DIR, 'bench_analytics_raw')) {
      for (const st of m.statements) {
        const name = /^CREATE OR REPLACE VIEW `bench_analytics_raw`\.(anomaly_config|anomalies_window) AS/.exec(st.trim())?.[1];
        if (name) latest.set(name, st);
      }
    }
    for (const name of ['anomaly_config', 'anomalies_window']) {
      const st = latest.get(name);
      if (!st) throw new Error(`no migration defines ${name}`);
      await store.client.command({ query: st });
    }
    const anomaliesRaw = () => q(`SELECT rule, count() AS n, sum(bytes) AS b FROM ${raw}.anomalies_window(from = {from:UInt32}, to = {to:UInt32}) GROUP BY rule`, { from, to: now });
    const sorted = async (run: () => Promise<unknown[]>) => JSON.stringify((await run()).map((r) => JSON.stringify(r)).sort());
    const [fromRollups, fromRaw] = [await sorted(anomalies), await sorted(anomaliesRaw)];
    if (fromRollups !== fromRaw) throw new Error(`the anomalies from the rollups (${fromRollups}) and from raw flows (${fromRaw}) differ`);
    for (const rule of ['NEW_COUNTRY', 'NEW_ASN', 'MINING_PORT']) if (!fromRollups.includes(rule)) throw new Error(`the planted ${rule} did not fire: ${fromRollups}`);
    log(`analytics  anomalies (30 d), the same from the rollups and from raw flows: ${fromRollups}`);
    const fig: Partial<AnalyticsFigures> = { analytics_rows: Number(n), analytics_load_s: Number(loadS.toFixed(1)) };
    const met: boolean[] = [];
    const parts: string[] = [];
    // Each question from the views and from raw flows, one after the other: `<name>_query_ms_30d`, `_raw_ms_30d`, `_speedup`.
    const questions: Record<Section, [string, () => Promise<unknown>, () => Promise<unknown>]> = {
      report: ['report (daily cost per workload, 30 d)', report, reportRaw],
      anomaly: ['anomalies (30 d)', anomalies, anomaliesRaw],
    };
    for (const section of sections) {
      const [what, fast, raw] = questions[section];
      const [ms, rawMs] = await medianPair(fast, raw);
      const speedup = Number((rawMs / Math.max(ms, 1)).toFixed(1));
      Object.assign(fig, { [`${section}_query_ms_30d`]: ms, [`${section}_query_raw_ms_30d`]: rawMs, [`${section}_query_speedup`]: speedup });
      met.push(ms < 500 && speedup >= 20);
      parts.push(`${what}: ${ms} ms from the rollups vs ${rawMs} ms from raw flows (x${speedup})`);
    }
    fig.analytics_meets_target = met.every(Boolean);
    log(`analytics  ${parts.join('; ')}; target < 500 ms and >= x20: ${fig.analytics_meets_target}`);
    return fig;
  } finally {
    await store.close();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-bench-analytics-'));
  try {
    const only = process.argv.slice(2);
    const unknown = only.filter((a) => !(SECTIONS as readonly string[]).includes(a));
    if (unknown.length > 0) throw new Error(`unknown section ${unknown.join(', ')}: one of ${SECTIONS.join(', ')}`);
    const fig = await benchAnalyticsSections(dir, createLogger('warn'), (s) => process.stderr.write(`${s}\n`), only.length > 0 ? (only as Section[]) : SECTIONS);
    console.log(JSON.stringify(fig));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
