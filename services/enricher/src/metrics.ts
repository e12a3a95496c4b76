// The enricher's metrics: its own (index sizes, unresolved endpoints and their bytes, the address
// cache, the Kubernetes watch) and the per-stage ones (stageMetrics, label stage="enricher").
// Counters follow the component's running totals: each scrape adds what grew since the last.
import { defineMetrics, stageMetrics, type Registry } from '@tollgate/metrics';
import type { Transport } from '@tollgate/pipeline';
import type { Enricher } from './component.ts';
import type { KubeSourceStats } from './kube-source.ts';

export const enricherMetrics = defineMetrics('enricher', {
  tollgate_enricher_index_entries: { type: 'gauge', help: 'Entries of the owner index, by what they are (ips, pods, nodes, services, owners, namespaces).', labels: ['what'] },
  tollgate_enricher_unresolved_records_total: { type: 'counter', help: 'Records whose local side is no known object (an unseen pod of the node\'s pod CIDR, or the node standing in): billed, workload unknown.' },
  tollgate_enricher_unresolved_bytes_total: { type: 'counter', help: 'Bytes (egress + ingress) of unresolved records.' },
  tollgate_enricher_unattributed_flows_total: { type: 'counter', help: 'Flows with bytes but no side on the reporting node (billed by the other node).' },
  tollgate_enricher_address_cache_lookups_total: { type: 'counter', help: 'Address classifications asked for (ranges, GeoIP).' },
  tollgate_enricher_address_cache_hits_total: { type: 'counter', help: 'Address classifications answered from the cache (hit rate = hits / lookups).' },
  tollgate_enricher_kube_events_total: { type: 'counter', help: 'Kubernetes objects received (list items and watch events).' },
  tollgate_enricher_kube_errors_total: { type: 'counter', help: 'Kubernetes list or watch failures (each followed by a backoff and a resume).' },
  tollgate_enricher_kube_relists_total: { type: 'counter', help: 'Relists after 410 Gone (a watch whose resourceVersion was compacted).' },
  tollgate_enricher_kube_synced: { type: 'gauge', help: '1 once the Kubernetes inventory has been listed in full.' },
});

export interface EnricherMetricsSources {
  enricher: Enricher;
  /** For consumer lag: end offsets of the raw topic. */
  transport?: Transport;
  rawTopic?: string;
  kube?: { stats(): KubeSourceStats; synced(): boolean };
}

/** Registers the enricher's metrics in `registry`, read from the component at each scrape. */
export function bindEnricherMetrics(registry: Registry, src: EnricherMetricsSources): void {
  const m = enricherMetrics.instruments(registry);
  const st = stageMetrics.instruments(registry);
  const stage = 'enricher';
  const last = new Map<string, number>();
  const add = (key: string, value: number, inc: (d: number) => void) => {
    const d = value - (last.get(key) ?? 0);
    if (d > 0) inc(d);
    last.set(key, value);
  };
  const hook = (metric: object, fn: () => void | Promise<void>) => {
    // prom-client calls a metric's collect() before each read.
    (metric as { collect?: () => void | Promise<void> }).collect = fn;
  };
  hook(m.tollgate_enricher_index_entries, () => {
    for (const [what, n] of Object.entries(src.enricher.indexSize())) m.tollgate_enricher_index_entries.set({ what }, n);
  });
  hook(m.tollgate_enricher_unresolved_records_total, () => add('unresolved', src.enricher.stats().unresolved, (d) => m.tollgate_enricher_unresolved_records_total.inc(d)));
  hook(m.tollgate_enricher_unresolved_bytes_total, () => add('unresolvedBytes', src.enricher.stats().unresolvedBytes, (d) => m.tollgate_enricher_unresolved_bytes_total.inc(d)));
  hook(m.tollgate_enricher_unattributed_flows_total, () => add('unattributed', src.enricher.stats().unattributed, (d) => m.tollgate_enricher_unattributed_flows_total.inc(d)));
  hook(m.tollgate_enricher_address_cache_lookups_total, () => {
    const c = src.enricher.cacheStats();
    add('lookups', c.hits + c.misses, (d) => m.tollgate_enricher_address_cache_lookups_total.inc(d));
  });
  hook(m.tollgate_enricher_address_cache_hits_total, () => add('hits', src.enricher.cacheStats().hits, (d) => m.tollgate_enricher_address_cache_hits_total.inc(d)));
  if (src.kube) {
    const k = src.kube;
    hook(m.tollgate_enricher_kube_events_total, () => add('kubeEvents', k.stats().events, (d) => m.tollgate_enricher_kube_events_total.inc(d)));
    hook(m.tollgate_enricher_kube_errors_total, () => add('kubeErrors', k.stats().errors, (d) => m.tollgate_enricher_kube_errors_total.inc(d)));
    hook(m.tollgate_enricher_kube_relists_total, () => add('kubeGone', k.stats().gone, (d) => m.tollgate_enricher_kube_relists_total.inc(d)));
    hook(m.tollgate_enricher_kube_synced, () => m.tollgate_enricher_kube_synced.set(k.synced() ? 1 : 0));
  }
  // Per-stage metrics.
  hook(st.tollgate_records_in_total, () => add('in', src.enricher.stats().flows, (d) => st.tollgate_records_in_total.inc({ stage }, d)));
  hook(st.tollgate_records_out_total, () => add('out', src.enricher.stats().records, (d) => st.tollgate_records_out_total.inc({ stage }, d)));
  hook(st.tollgate_bytes_total, () => add('bytes', src.enricher.stats().bytes, (d) => st.tollgate_bytes_total.inc({ stage }, d)));
  hook(st.tollgate_messages_in_total, () => add('messages', src.enricher.stats().messages, (d) => st.tollgate_messages_in_total.inc({ stage }, d)));
  hook(st.tollgate_dlq_messages_total, () => {
    for (const [reason, n] of Object.entries(src.enricher.stats().dlqByReason)) add(`dlq:${reason}`, n, (d) => st.tollgate_dlq_messages_total.inc({ stage, reason }, d));
  });
  hook(st.tollgate_produce_errors_total, () => add('produceErrors', src.enricher.stats().produceErrors, (d) => st.tollgate_produce_errors_total.inc({ stage }, d)));
  hook(st.tollgate_produce_retries_total, () => add('produceRetries', src.enricher.stats().produceRetries, (d) => st.tollgate_produce_retries_total.inc({ stage }, d)));
  if (src.transport && src.rawTopic) {
    const { transport, rawTopic } = src;
    hook(st.tollgate_consumer_lag, async () => {
      const end = await transport.endOffsets(rawTopic).catch(() => undefined);
      if (!end) return;
      const pos = src.enricher.positions();
      for (const [p, off] of end) {
        const at = pos.get(`${rawTopic}/${p}`);
        if (at !== undefined) st.tollgate_consumer_lag.set({ stage, topic: rawTopic, partition: String(p) }, Math.max(0, off - at)); // partitions this instance reads
      }
    });
  }
  src.enricher.onBatch((seconds) => st.tollgate_batch_seconds.observe({ stage }, seconds));
}
