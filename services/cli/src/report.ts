// The cost and anomaly report, as a table, JSON or CSV, shared by `tollgate report` and `tollgate demo`.
// Read only: queries the views, never writes (no migrations).
import { budgetOverruns, budgetStatus, clientQuery, costByLabel, type LabelCost, internetEgressByCountry, topDestinations, type AnomalyGroup, type BudgetOverrun, type BudgetStatus, type CountryEgress, type CostTotals, type Store, type TopDestination, type WorkloadCost } from '@tollgate/clickhouse';
import { bytes, renderTable, usd } from './table.ts';

export interface ReportOptions {
  top: number;
  /** ms since epoch; undefined: everything stored. */
  from?: number;
  to?: number;
  /** '' or undefined: every cluster / namespace. */
  cluster?: string;
  namespace?: string;
  format: 'table' | 'json' | 'csv';
  /** A chargeback label key: add the cost per value of that label (`--by label:<key>`). */
  byLabel?: string;
}

export interface Report {
  period: { from: string | null; to: string | null };
  scope: { cluster: string | null; namespace: string | null };
  totals: CostTotals;
  workloads: WorkloadCost[];
  /** Top destinations of the workloads listed (external by class, country and ASN; cloud services; Services). */
  destinations: TopDestination[];
  /** Internet egress per destination country (all workloads). */
  countries: CountryEgress[];
  anomalies: AnomalyGroup[];
  /** Each budget at the end of the period (now if open): the spend of its day or month to date. */
  budgets: BudgetStatus[];
  /** Budgets crossed in the period: the hour each day's or month's spend reached its budget. */
  overruns: BudgetOverrun[];
  /** With --by label:<key>: the cost per value of that label; value null is the traffic of pods without it. */
  labels?: { key: string; values: LabelCost[] };
}

export async function buildReport(store: Store, o: ReportOptions): Promise<Report> {
  const period = { from: o.from, to: o.to, cluster: o.cluster || undefined, namespace: o.namespace || undefined };
  const q = clientQuery(store.client);
  const db = `\`${store.database}\``;
  const scope = { cluster: period.cluster, namespace: period.namespace };
  const [totals, workloads, anomalies, destinations, countries, budgets, overruns] = await Promise.all([
    store.costTotals(period),
    store.costByWorkload({ ...period, top: o.top }),
    store.anomalies(period),
    topDestinations(q, db, { ...period, perWorkload: 3 }),
    internetEgressByCountry(q, db, period),
    budgetStatus(q, db, { ...scope, at: o.to }),
    budgetOverruns(q, db, period),
  ]);
  const labels = o.byLabel ? { key: o.byLabel, values: await costByLabel(q, db, { ...period, key: o.byLabel }) } : undefined;
  const listed = new Set(workloads.map((w) => `${w.cluster}/${w.namespace}/${w.workload_kind}/${w.workload}`));
  const iso = (t: number | undefined) => (t === undefined ? null : new Date(t).toISOString());
  return {
    period: { from: iso(o.from), to: iso(o.to) },
    scope: { cluster: o.cluster || null, namespace: o.namespace || null },
    totals,
    workloads,
    destinations: destinations.filter((d) => listed.has(`${d.cluster}/${d.namespace}/${d.workload_kind}/${d.workload}`)),
    countries,
    anomalies,
    budgets,
    overruns,
    ...(labels ? { labels } : {}),
  };
}

const CSV_COLUMNS = ['cluster', 'namespace', 'workload_kind', 'workload', 'class', 'egress_bytes', 'ingress_bytes', 'egress_usd', 'ingress_usd', 'nat_usd', 'total_usd'] as const;
const csvCell = (v: string | number) => (typeof v === 'number' ? String(v) : /[",\n\r]/.test(v) ? `"${v.replaceAll('"', '""')}"` : v);

const LABEL_CSV_COLUMNS = ['egress_bytes', 'ingress_bytes', 'egress_usd', 'ingress_usd', 'nat_usd', 'total_usd'] as const;

/** CSV: one line per workload and class (the cost table, unrounded); with --by label, one line per label value. */
export function renderCsv(r: Report): string {
  if (r.labels) {
    const out = [['label_key', 'label_value', ...LABEL_CSV_COLUMNS].join(',')];
    for (const v of r.labels.values) out.push([csvCell(r.labels.key), csvCell(v.value ?? ''), ...LABEL_CSV_COLUMNS.map((k) => csvCell(v[k]))].join(','));
    return `${out.join('\n')}\n`;
  }
  const lines: string[] = [CSV_COLUMNS.join(',')];
  for (const w of r.workloads) {
    for (const c of w.classes) {
      const row = { ...w, ...c };
      lines.push(CSV_COLUMNS.map((k) => csvCell(row[k])).join(','));
    }
  }
  return `${lines.join('\n')}\n`;
}

const CLASS_ORDER = ['internet', 'cross_zone', 'cross_region', 'cloud_service', 'direct', 'private', 'same_zone'];
const when = (ms: number) => new Date(ms).toISOString().slice(0, 16).replace('T', ' ');
/** A destination as people read it: `S3`, `Service shop/api`, or `SE AS29518 Bredband2 81.2.69.1`. */
const destinationName = (d: TopDestination) =>
  d.cloud_service || (d.service ? `Service ${d.service}` : [d.country, d.asn ? `AS${d.asn}${d.as_org ? ` ${d.as_org}` : ''}` : '', d.ip].filter(Boolean).join(' '));
const workloadName = (w: { namespace: string; workload_kind: string; workload: string }) =>
  w.namespace ? `${w.namespace}/${w.workload_kind}/${w.workload}` : `${w.workload_kind}/${w.workload}`;

export function renderReport(r: Report, o: ReportOptions): string {
  if (o.format === 'json') return `${JSON.stringify(r, null, 2)}\n`;
  if (o.format === 'csv') return renderCsv(r);
  const out: string[] = [];
  const span = r.period.from ? `since ${r.period.from.slice(0, 16).replace('T', ' ')} UTC` : 'all stored traffic';
  out.push(`Network cost per workload (${span}; USD at the prices in the store)`);
  // Classes with cost, in a fixed order; the others are in the egress/ingress volume only.
  const priced = CLASS_ORDER.filter((c) => r.totals.classes.some((x) => x.class === c && x.egress_usd + x.ingress_usd > 0));
  const classUsd = (w: WorkloadCost, c: string) => {
    const x = w.classes.find((k) => k.class === c);
    return x ? x.egress_usd + x.ingress_usd : 0;
  };
  if (r.workloads.length === 0) {
    out.push('', '(no traffic stored for this period)');
  } else {
    out.push(
      '',
      renderTable(r.workloads, [
        { title: 'WORKLOAD', value: workloadName },
        { title: 'EGRESS', value: (w) => bytes(w.egress_bytes), align: 'right' },
        { title: 'INGRESS', value: (w) => bytes(w.ingress_bytes), align: 'right' },
        ...priced.map((c) => ({ title: c.toUpperCase().replace('_', '-'), value: (w: WorkloadCost) => usd(classUsd(w, c)), align: 'right' as const })),
        { title: 'NAT-GW', value: (w) => usd(w.nat_usd), align: 'right' },
        { title: 'TOTAL', value: (w) => usd(w.total_usd), align: 'right' },
      ]),
    );
    out.push('', `All workloads: ${usd(r.totals.total_usd)} (egress ${bytes(r.totals.egress_bytes)}, ingress ${bytes(r.totals.ingress_bytes)}; NAT gateway ${usd(r.totals.nat_usd)})`);
  }
  if (r.labels) {
    out.push(
      '',
      `Network cost per ${r.labels.key}`,
      '',
      renderTable(r.labels.values, [
        { title: r.labels.key.toUpperCase(), value: (v) => v.value ?? '(none)' },
        { title: 'EGRESS', value: (v) => bytes(v.egress_bytes), align: 'right' },
        { title: 'INGRESS', value: (v) => bytes(v.ingress_bytes), align: 'right' },
        { title: 'NAT-GW', value: (v) => usd(v.nat_usd), align: 'right' },
        { title: 'TOTAL', value: (v) => usd(v.total_usd), align: 'right' },
      ]),
    );
  }
  if (r.destinations.length > 0) {
    out.push(
      '',
      'Top destinations',
      '',
      renderTable(r.destinations, [
        { title: 'WORKLOAD', value: workloadName },
        { title: 'CLASS', value: (d) => d.class },
        { title: 'DESTINATION', value: destinationName },
        { title: 'EGRESS', value: (d) => bytes(d.egress_bytes), align: 'right' },
        { title: 'INGRESS', value: (d) => bytes(d.ingress_bytes), align: 'right' },
      ]),
    );
  }
  out.push('', `Anomalous destinations: ${r.anomalies.length === 0 ? 'none' : r.anomalies.length}`);
  if (r.anomalies.length > 0) {
    out.push(
      '',
      renderTable(r.anomalies, [
        { title: 'SEVERITY', value: (a) => a.severity },
        { title: 'RULE', value: (a) => a.rule },
        { title: 'WORKLOAD', value: workloadName },
        { title: 'DESTINATION', value: (a) => [a.country || '??', a.asn ? `AS${a.asn}` : '', a.ip ? `${a.ip}${a.port ? `:${a.port}` : ''}` : a.port ? `port ${a.port}` : ''].filter(Boolean).join(' ') },
        { title: 'FIRST (UTC)', value: (a) => when(a.first_window) },
        { title: 'HOURS', value: (a) => String(a.hours), align: 'right' },
        { title: 'BYTES', value: (a) => bytes(a.bytes), align: 'right' },
      ]),
    );
  }
  if (r.budgets.length > 0 || r.overruns.length > 0) {
    const scopeName = (b: { cluster: string; namespace: string; label_key: string; label_value: string }) =>
      `${b.cluster}/${b.namespace === '*' ? (b.label_key ? '*' : '(all namespaces)') : b.namespace}${b.label_key ? ` ${b.label_key}=${b.label_value}` : ''}`;
    out.push(
      '',
      `Budgets (${r.period.to ? `at ${r.period.to.slice(0, 16).replace('T', ' ')} UTC` : 'now'}): ${r.budgets.filter((b) => b.over).length} over`,
      '',
      renderTable(r.budgets, [
        { title: 'SCOPE', value: scopeName },
        { title: 'PERIOD', value: (b) => `${b.period} of ${new Date(b.period_start).toISOString().slice(0, b.period === 'day' ? 10 : 7)}` },
        { title: 'SPENT', value: (b) => usd(b.spent_usd), align: 'right' },
        { title: 'BUDGET', value: (b) => usd(b.budget_usd), align: 'right' },
        { title: 'USED', value: (b) => `${Math.round(b.share * 100)}%`, align: 'right' },
        { title: 'STATUS', value: (b) => (b.over ? 'OVER' : 'ok') },
      ]),
    );
    if (r.overruns.length > 0) {
      out.push(
        '',
        `Budgets crossed in the period: ${r.overruns.length}`,
        '',
        renderTable(r.overruns, [
          { title: 'SCOPE', value: scopeName },
          { title: 'PERIOD', value: (b) => `${b.period} of ${new Date(b.period_start).toISOString().slice(0, b.period === 'day' ? 10 : 7)}` },
          { title: 'CROSSED (UTC)', value: (b) => when(b.window_start) },
          { title: 'SPENT THEN', value: (b) => usd(b.spent_usd), align: 'right' },
          { title: 'BUDGET', value: (b) => usd(b.budget_usd), align: 'right' },
        ]),
      );
    }
  }
  return `${out.join('\n')}\n`;
}
