// Report queries over the cost and anomaly views (infra/clickhouse). Values are bound with
// query_params; only the validated database identifier is part of the SQL text.
import type { ClickHouseClient } from '@clickhouse/client';
import type { AnomalyRule, Severity } from '@tollgate/schema';

export type QueryFn = <T>(sql: string, params?: Record<string, unknown>) => Promise<T[]>;

/** A QueryFn on a client (rows as JSON objects, values bound as query parameters). */
export function clientQuery(client: ClickHouseClient): QueryFn {
  return async <T>(sql: string, params: Record<string, unknown> = {}): Promise<T[]> => {
    const rs = await client.query({ query: sql, format: 'JSONEachRow', query_params: params });
    return rs.json<T>();
  };
}

/** A time range, ms since the epoch (or Date): [from, to), and optionally one cluster or namespace. All optional. */
export interface Period {
  from?: number | Date;
  to?: number | Date;
  cluster?: string;
  namespace?: string;
}

export interface Money {
  egress_bytes: number;
  ingress_bytes: number;
  egress_usd: number;
  ingress_usd: number;
  /** NAT gateway processing, both directions. */
  nat_usd: number;
  total_usd: number;
}

export interface ClassCost extends Money {
  /** Lowercase traffic class ('cross_zone', 'internet', ...). */
  class: string;
}

export interface WorkloadCost extends Money {
  cluster: string;
  namespace: string;
  workload_kind: string;
  workload: string;
  /** Per class, highest total_usd first. */
  classes: ClassCost[];
}

export interface CostTotals extends Money {
  classes: ClassCost[];
}

export interface AnomalyRow {
  id: string;
  /** ms since the epoch. */
  window_start: number;
  window_end: number;
  cluster: string;
  namespace: string;
  workload_kind: string;
  workload: string;
  rule: AnomalyRule;
  country: string;
  asn: number;
  ip: string;
  port: number;
  bytes: number;
  baseline_bytes: number;
  score: number;
  severity: Severity;
}

/** Anomaly rows of one workload, rule and destination, over the period. */
export interface AnomalyGroup {
  cluster: string;
  namespace: string;
  workload_kind: string;
  workload: string;
  rule: AnomalyRule;
  country: string;
  /** 0 unless the rule keys by it (MINING_PORT). */
  asn: number;
  port: number;
  /** A sample remote IP. */
  ip: string;
  first_window: number;
  last_window_end: number;
  hours: number;
  bytes: number;
  baseline_bytes: number;
  max_score: number;
  severity: Severity;
}

export interface WorkloadClassBytes {
  namespace: string;
  workload_kind: string;
  workload: string;
  class: string;
  egress_bytes: number;
  ingress_bytes: number;
}

/** IPv4 addresses are stored IPv4-mapped in IPv6 columns; show them as people write them. */
export function plainIp(ip: string): string {
  return ip.startsWith('::ffff:') && ip.includes('.') ? ip.slice(7) : ip;
}

const SEVERITIES: readonly Severity[] = ['LOW', 'MEDIUM', 'HIGH', 'CRITICAL'];

function seconds(t: number | Date | undefined, dflt: number): number {
  if (t === undefined) return dflt;
  const ms = t instanceof Date ? t.getTime() : t;
  return Math.max(0, Math.min(4_294_967_295, Math.floor(ms / 1000)));
}

function period(p: Period): { from: number; to: number; cluster: string; namespace: string } {
  return { from: seconds(p.from, 0), to: seconds(p.to, 4_294_967_295), cluster: p.cluster ?? '', namespace: p.namespace ?? '' };
}

/** The period's cluster and namespace ('' = all), as bound parameters. */
const SCOPE = `({cluster:String} = '' OR cluster = {cluster:String}) AND ({namespace:String} = '' OR namespace = {namespace:String})`;

type Num = number | string;
interface MoneyRaw {
  egress_bytes: Num;
  ingress_bytes: Num;
  egress_usd: Num;
  ingress_usd: Num;
  nat_usd: Num;
  total_usd: Num;
}
const money = (r: MoneyRaw): Money => ({
  egress_bytes: Number(r.egress_bytes),
  ingress_bytes: Number(r.ingress_bytes),
  egress_usd: Number(r.egress_usd),
  ingress_usd: Number(r.ingress_usd),
  nat_usd: Number(r.nat_usd),
  total_usd: Number(r.total_usd),
});
const zero = (): Money => ({ egress_bytes: 0, ingress_bytes: 0, egress_usd: 0, ingress_usd: 0, nat_usd: 0, total_usd: 0 });
function add(a: Money, b: Money): void {
  a.egress_bytes += b.egress_bytes;
  a.ingress_bytes += b.ingress_bytes;
  a.egress_usd += b.egress_usd;
  a.ingress_usd += b.ingress_usd;
  a.nat_usd += b.nat_usd;
  a.total_usd += b.total_usd;
}

const MONEY_COLS = `sum(egress_bytes) AS egress_bytes, sum(ingress_bytes) AS ingress_bytes, sum(egress_usd) AS egress_usd,
  sum(ingress_usd) AS ingress_usd, sum(nat_usd) AS nat_usd, sum(total_usd) AS total_usd`;
const HOUR_RANGE = `hour >= toDateTime({from:UInt32}, 'UTC') AND hour < toDateTime({to:UInt32}, 'UTC') AND ${SCOPE}`;

export async function costByWorkload(q: QueryFn, db: string, opts: Period & { top?: number }): Promise<WorkloadCost[]> {
  const rows = await q<MoneyRaw & { cluster: string; namespace: string; workload_kind: string; workload: string; class: string }>(
    `SELECT cluster, namespace, workload_kind, workload, class, ${MONEY_COLS}
     FROM ${db}.workload_cost_hourly WHERE ${HOUR_RANGE}
     GROUP BY cluster, namespace, workload_kind, workload, class`,
    period(opts),
  );
  const byWorkload = new Map<string, WorkloadCost>();
  for (const r of rows) {
    const key = JSON.stringify([r.cluster, r.namespace, r.workload_kind, r.workload]);
    let w = byWorkload.get(key);
    if (!w) {
      w = { cluster: r.cluster, namespace: r.namespace, workload_kind: r.workload_kind, workload: r.workload, ...zero(), classes: [] };
      byWorkload.set(key, w);
    }
    const c = money(r);
    add(w, c);
    w.classes.push({ class: r.class, ...c });
  }
  const out = [...byWorkload.values()];
  for (const w of out) w.classes.sort((a, b) => b.total_usd - a.total_usd || b.egress_bytes - a.egress_bytes || a.class.localeCompare(b.class));
  out.sort(
    (a, b) =>
      b.total_usd - a.total_usd ||
      b.egress_bytes + b.ingress_bytes - (a.egress_bytes + a.ingress_bytes) ||
      `${a.cluster}/${a.namespace}/${a.workload}`.localeCompare(`${b.cluster}/${b.namespace}/${b.workload}`),
  );
  return opts.top !== undefined ? out.slice(0, opts.top) : out;
}

export async function costTotals(q: QueryFn, db: string, opts: Period): Promise<CostTotals> {
  const rows = await q<MoneyRaw & { class: string }>(
    `SELECT class, ${MONEY_COLS} FROM ${db}.workload_cost_hourly WHERE ${HOUR_RANGE} GROUP BY class`,
    period(opts),
  );
  const total: CostTotals = { ...zero(), classes: [] };
  for (const r of rows) {
    const c = money(r);
    add(total, c);
    total.classes.push({ class: r.class, ...c });
  }
  total.classes.sort((a, b) => b.total_usd - a.total_usd || b.egress_bytes - a.egress_bytes || a.class.localeCompare(b.class));
  return total;
}

/**
 * The anomaly view judging only the hours of the period (and reading only them plus their baseline).
 * `view`: another view of the same parameters and columns (tests: the reference of earlier migrations).
 */
const ANOMALIES_IN = (db: string, view = 'anomalies_window') => `${db}.${view}(from = {from:UInt32}, to = {to:UInt32})`;

export async function anomalyRows(q: QueryFn, db: string, opts: Period, view?: 'anomalies_window' | `ref_${string}`): Promise<AnomalyRow[]> {
  const rows = await q<Record<string, Num>>(
    `SELECT id, toUnixTimestamp(window_start) AS ws, toUnixTimestamp(window_end) AS we, cluster, namespace, workload_kind, workload,
            rule, country, asn, ip, port, bytes, baseline_bytes, score, severity
     FROM ${ANOMALIES_IN(db, view)} WHERE ${SCOPE}
     ORDER BY window_start, rule, cluster, namespace, workload_kind, workload, country, asn, port`,
    period(opts),
  );
  return rows.map((r) => ({
    id: String(r.id),
    window_start: Number(r.ws) * 1000,
    window_end: Number(r.we) * 1000,
    cluster: String(r.cluster),
    namespace: String(r.namespace),
    workload_kind: String(r.workload_kind),
    workload: String(r.workload),
    rule: String(r.rule) as AnomalyRule,
    country: String(r.country),
    asn: Number(r.asn),
    ip: plainIp(String(r.ip)),
    port: Number(r.port),
    bytes: Number(r.bytes),
    baseline_bytes: Number(r.baseline_bytes),
    score: Number(r.score),
    severity: String(r.severity) as Severity,
  }));
}

export async function anomalies(q: QueryFn, db: string, opts: Period): Promise<AnomalyGroup[]> {
  const rows = await q<Record<string, Num>>(
    `SELECT cluster, namespace, workload_kind, workload, rule, country,
            if(rule = 'MINING_PORT', asn, 0) AS dest_asn, if(rule = 'MINING_PORT', port, 0) AS dest_port,
            min(ip) AS sample_ip,
            toUnixTimestamp(min(window_start)) AS first_ws, toUnixTimestamp(max(window_end)) AS last_we,
            count() AS hours, sum(bytes) AS total_bytes, max(baseline_bytes) AS max_baseline, max(score) AS max_score,
            max(indexOf(['LOW', 'MEDIUM', 'HIGH', 'CRITICAL'], severity)) AS sev
     FROM ${ANOMALIES_IN(db)} WHERE ${SCOPE}
     GROUP BY cluster, namespace, workload_kind, workload, rule, country, dest_asn, dest_port
     ORDER BY sev DESC, total_bytes DESC, cluster, namespace, workload, rule, country, dest_port`,
    period(opts),
  );
  return rows.map((r) => ({
    cluster: String(r.cluster),
    namespace: String(r.namespace),
    workload_kind: String(r.workload_kind),
    workload: String(r.workload),
    rule: String(r.rule) as AnomalyRule,
    country: String(r.country),
    asn: Number(r.dest_asn),
    port: Number(r.dest_port),
    ip: plainIp(String(r.sample_ip)),
    first_window: Number(r.first_ws) * 1000,
    last_window_end: Number(r.last_we) * 1000,
    hours: Number(r.hours),
    bytes: Number(r.total_bytes),
    baseline_bytes: Number(r.max_baseline),
    max_score: Number(r.max_score),
    severity: SEVERITIES[Math.max(0, Number(r.sev) - 1)]!,
  }));
}

export async function bytesByWorkloadClass(q: QueryFn, db: string): Promise<WorkloadClassBytes[]> {
  const rows = await q<Record<string, Num>>(
    `SELECT namespace, workload_kind, workload, class, toString(sum(egress_bytes)) AS eb, toString(sum(ingress_bytes)) AS ib
     FROM ${db}.workload_hourly GROUP BY namespace, workload_kind, workload, class
     ORDER BY namespace, workload_kind, workload, class`,
  );
  return rows.map((r) => ({
    namespace: String(r.namespace),
    workload_kind: String(r.workload_kind),
    workload: String(r.workload),
    class: String(r.class),
    egress_bytes: Number(r.eb),
    ingress_bytes: Number(r.ib),
  }));
}

export interface TopDestination {
  cluster: string;
  namespace: string;
  workload_kind: string;
  workload: string;
  class: string;
  country: string;
  asn: number;
  as_org: string;
  /** A sample remote IP. */
  ip: string;
  /** The cloud service (S3, ...) of a cloud_service destination; else empty. */
  cloud_service: string;
  /** The Kubernetes Service (`namespace/name`) of an in-cluster destination the workload addressed by its Service; else empty. */
  service: string;
  egress_bytes: number;
  ingress_bytes: number;
  flows: number;
}

/**
 * The destinations each workload opened, most egress first, `perWorkload` of them: external ones
 * by class, country and ASN, cloud services by service, in-cluster ones by the Service addressed.
 */
export async function topDestinations(q: QueryFn, db: string, opts: Period & { perWorkload?: number }): Promise<TopDestination[]> {
  const rows = await q<Record<string, Num>>(
    `SELECT cluster, namespace, workload_kind, workload, class, country, asn, cloud_service, service, max(as_org) AS org, min(ip) AS sample_ip,
            toString(sum(egress_bytes)) AS eb, toString(sum(ingress_bytes)) AS ib, toString(sum(flows)) AS n
     FROM ${db}.destinations_top_hourly WHERE ${HOUR_RANGE}
     GROUP BY cluster, namespace, workload_kind, workload, class, country, asn, cloud_service, service
     ORDER BY cluster, namespace, workload_kind, workload, sum(egress_bytes) DESC, class, country, asn, cloud_service, service
     LIMIT {per:UInt32} BY cluster, namespace, workload_kind, workload`,
    { ...period(opts), per: opts.perWorkload ?? 5 },
  );
  return rows.map((r) => ({
    cluster: String(r.cluster),
    namespace: String(r.namespace),
    workload_kind: String(r.workload_kind),
    workload: String(r.workload),
    class: String(r.class),
    country: String(r.country),
    asn: Number(r.asn),
    as_org: String(r.org),
    ip: plainIp(String(r.sample_ip)),
    cloud_service: String(r.cloud_service),
    service: String(r.service),
    egress_bytes: Number(r.eb),
    ingress_bytes: Number(r.ib),
    flows: Number(r.n),
  }));
}

/** Names of the migrations applied to the store (a read-only command checks them instead of migrating). */
export async function appliedMigrations(q: QueryFn, db: string): Promise<string[]> {
  const rows = await q<{ name: string }>(`SELECT DISTINCT name FROM ${db}.schema_migrations ORDER BY name`);
  return rows.map((r) => r.name);
}

export interface CountryEgress {
  country: string;
  egress_bytes: number;
}

/** Internet egress per destination country (connections the workloads opened), most first. */
export async function internetEgressByCountry(q: QueryFn, db: string, opts: Period): Promise<CountryEgress[]> {
  const rows = await q<{ country: string; eb: string }>(
    `SELECT country, toString(sum(egress_bytes)) AS eb FROM ${db}.destinations_top_hourly
     WHERE class = 'internet' AND ${HOUR_RANGE} GROUP BY country ORDER BY sum(egress_bytes) DESC, country`,
    period(opts),
  );
  return rows.map((r) => ({ country: String(r.country), egress_bytes: Number(r.eb) }));
}

export interface BudgetStatus {
  cluster: string;
  /** '*': the whole cluster. */
  namespace: string;
  /** '' for a namespace's budget; else the budget of the pods whose chargeback label label_key is label_value. */
  label_key: string;
  label_value: string;
  period: 'day' | 'month';
  /** ms since the epoch: start (UTC) of the day or month the status is for. */
  period_start: number;
  budget_usd: number;
  /** Spend of the period to date. */
  spent_usd: number;
  share: number;
  over: boolean;
}

export interface BudgetOverrun {
  id: string;
  /** ms since the epoch: the hour the spend to date reached the budget. */
  window_start: number;
  window_end: number;
  cluster: string;
  namespace: string;
  label_key: string;
  label_value: string;
  period: 'day' | 'month';
  period_start: number;
  budget_usd: number;
  /** Spend of the period to the end of that hour. */
  spent_usd: number;
  score: number;
  severity: Severity;
}

const BUDGET_SCOPE = `({cluster:String} = '' OR cluster = {cluster:String}) AND ({namespace:String} = '' OR namespace = {namespace:String} OR namespace = '*')`;

/** Each budget (infra/clickhouse/0055) at `at` (default now): the spend of its day or month to date. */
export async function budgetStatus(q: QueryFn, db: string, opts: Omit<Period, 'from' | 'to'> & { at?: number | Date }): Promise<BudgetStatus[]> {
  const p = period(opts);
  const rows = await q<Record<string, Num>>(
    `SELECT cluster, namespace, label_key, label_value, period, toUnixTimestamp(period_start) AS ps, budget_usd, spent_usd, share, over
     FROM ${db}.budget_status(at = {at:UInt32}) WHERE ${BUDGET_SCOPE}
     ORDER BY cluster, namespace, label_key, label_value, period`,
    { ...p, at: seconds(opts.at, Math.floor(Date.now() / 1000)) },
  );
  return rows.map((r) => ({
    cluster: String(r.cluster),
    namespace: String(r.namespace),
    label_key: String(r.label_key),
    label_value: String(r.label_value),
    period: String(r.period) as 'day' | 'month',
    period_start: Number(r.ps) * 1000,
    budget_usd: Number(r.budget_usd),
    spent_usd: Number(r.spent_usd),
    share: Number(r.share),
    over: Boolean(Number(r.over)),
  }));
}

/** Budgets crossed in the period: one row per budget and day or month, at the hour it was crossed. */
export async function budgetOverruns(q: QueryFn, db: string, opts: Period): Promise<BudgetOverrun[]> {
  const rows = await q<Record<string, Num>>(
    `SELECT id, toUnixTimestamp(window_start) AS ws, toUnixTimestamp(window_end) AS we, cluster, namespace, label_key, label_value, period,
            toUnixTimestamp(period_start) AS ps, budget_usd, spent_usd, score, severity
     FROM ${db}.budget_overruns(from = {from:UInt32}, to = {to:UInt32}) WHERE ${BUDGET_SCOPE}
     ORDER BY window_start, cluster, namespace, label_key, label_value, period`,
    period(opts),
  );
  return rows.map((r) => ({
    id: String(r.id),
    window_start: Number(r.ws) * 1000,
    window_end: Number(r.we) * 1000,
    cluster: String(r.cluster),
    namespace: String(r.namespace),
    label_key: String(r.label_key),
    label_value: String(r.label_value),
    period: String(r.period) as 'day' | 'month',
    period_start: Number(r.ps) * 1000,
    budget_usd: Number(r.budget_usd),
    spent_usd: Number(r.spent_usd),
    score: Number(r.score),
    severity: String(r.severity) as Severity,
  }));
}

export interface LabelCost extends Money {
  /** The chargeback label's value; null: the traffic of pods without a value for the key. */
  value: string | null;
}

/**
 * Cost per value of one chargeback label (infra/clickhouse/0053), most expensive first, and the
 * rest of the period's cost (pods without the label) as value null.
 */
export async function costByLabel(q: QueryFn, db: string, opts: Period & { key: string }): Promise<LabelCost[]> {
  const rows = await q<MoneyRaw & { label_value: string }>(
    `SELECT label_value, ${MONEY_COLS}
     FROM ${db}.label_cost_hourly WHERE label_key = {key:String} AND ${HOUR_RANGE}
     GROUP BY label_value`,
    { ...period(opts), key: opts.key },
  );
  const out: LabelCost[] = rows.map((r) => ({ value: String(r.label_value), ...money(r) }));
  const { classes: _classes, ...total } = await costTotals(q, db, opts);
  const rest: LabelCost = { value: null, ...total };
  for (const r of out) for (const k of ['egress_bytes', 'ingress_bytes', 'egress_usd', 'ingress_usd', 'nat_usd', 'total_usd'] as const) rest[k] -= r[k];
  // Float sums: a remainder below a micro-dollar and no bytes is nothing.
  if (rest.egress_bytes > 0 || rest.ingress_bytes > 0) out.push(rest);
  return out.sort((a, b) => (a.value === null ? 1 : b.value === null ? -1 : b.total_usd - a.total_usd || a.value.localeCompare(b.value)));
}
