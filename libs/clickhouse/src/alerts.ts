// The alert publisher's ledger (infra/clickhouse/0020: alerts_published): which anomaly ids are
// on egress.anomalies.v1. It is filled from the topic itself (services/alerts reads back every
// event it finds there), so "published" means "in the topic", whatever crashed when.
import type { Budget } from '@tollgate/schema';
import { anomalyRows, budgetOverruns, clientQuery, type AnomalyRow, type Period } from './reports.ts';
import type { Store } from './store.ts';

export interface PublishedAlert {
  id: string;
  topic: string;
  partition: number;
  offset: number;
  /** ms since the epoch. */
  window_start: number;
}

/** An alert to publish: an anomaly row, or a budget crossed (rule BUDGET, no workload or destination). */
export interface PendingAlert extends AnomalyRow {
  budget: Budget | null;
}

/** Anomaly rows and budget overruns of the period whose id is not in the ledger, oldest first. */
export async function pendingAlerts(store: Store, period: Period): Promise<PendingAlert[]> {
  const db = `\`${store.database}\``;
  const query = clientQuery(store.client);
  const rows: PendingAlert[] = (await anomalyRows(query, db, period)).map((r) => ({ ...r, budget: null }));
  for (const b of await budgetOverruns(query, db, period)) {
    rows.push({
      id: b.id,
      window_start: b.window_start,
      window_end: b.window_end,
      cluster: b.cluster,
      namespace: b.namespace,
      workload_kind: '',
      workload: '',
      rule: 'BUDGET',
      country: '',
      asn: 0,
      ip: '',
      port: 0,
      bytes: 0,
      baseline_bytes: 0,
      score: b.score,
      severity: b.severity,
      budget: {
        label_key: b.label_key,
        label_value: b.label_value,
        period: b.period === 'day' ? 'DAY' : 'MONTH',
        period_start: b.period_start,
        budget_usd: b.budget_usd,
        spent_usd: b.spent_usd,
      },
    });
  }
  if (rows.length === 0) return rows;
  rows.sort((a, b) => a.window_start - b.window_start);
  // Only the ledger rows of the period's windows.
  const from = Math.floor(Math.min(...rows.map((r) => r.window_start)) / 1000);
  const published = new Set(
    (
      await query<{ id: string }>(`SELECT DISTINCT id FROM ${db}.alerts_published WHERE window_start >= toDateTime({from:UInt32}, 'UTC')`, { from })
    ).map((r) => r.id),
  );
  return rows.filter((r) => !published.has(r.id));
}

/** Records events found in the topic. Recording one twice is harmless (one row per id once merged; readers use DISTINCT). */
export async function recordPublished(store: Store, alerts: readonly PublishedAlert[]): Promise<void> {
  if (alerts.length === 0) return;
  await store.client.insert({
    table: `\`${store.database}\`.alerts_published`,
    format: 'JSONEachRow',
    values: alerts.map((a) => ({ id: a.id, topic: a.topic, partition: a.partition, offset: a.offset, window_start: Math.floor(a.window_start / 1000) })),
    // chDB keeps SET values in its session: clear a token a previous insert may have left.
    clickhouse_settings: { insert_deduplication_token: '' },
  });
}

/** Distinct anomaly ids in the ledger (tests, tools). */
export async function publishedIds(store: Store): Promise<string[]> {
  const rs = await store.client.query({ query: `SELECT DISTINCT id FROM \`${store.database}\`.alerts_published ORDER BY id`, format: 'JSONEachRow' });
  return (await rs.json<{ id: string }>()).map((r) => r.id);
}
