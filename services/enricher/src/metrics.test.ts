import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createLogger } from '@tollgate/log';
import { createRegistry } from '@tollgate/metrics';
import { allTopics, MemoryTransport, topicNames } from '@tollgate/pipeline';
import { Family, SchemaRegistry, type RawFlowBatch } from '@tollgate/schema';
import { Classifier } from './classifier.ts';
import { createEnricher } from './component.ts';
import { eventsSource } from './inventory.ts';
import { bindEnricherMetrics, enricherMetrics } from './metrics.ts';
import { OwnerIndex } from './owner-index.ts';
import { added, batch, flow, node, pod } from './testkit.ts';

const registry = SchemaRegistry.load();
const rawCodec = registry.codec<RawFlowBatch>(Family.raw);
const topics = topicNames('m');

/** The value of `name{labels}` in Prometheus text. */
function value(text: string, name: string, labels = ''): number {
  const head = labels ? `${name}{${labels}} ` : `${name} `;
  const line = text.split('\n').find((l) => l.startsWith(head));
  assert.ok(line, `${head}in\n${text.split('\n').filter((l) => l.startsWith(name)).join('\n')}`);
  return Number(line.split(' ').pop());
}

test('the enricher metrics follow what it did: records, bytes, unresolved, index sizes, cache, lag', async () => {
  const t = new MemoryTransport();
  await t.ensureTopics(allTopics(topics), 1);
  const n1 = node('n1', '10.0.1.10', 'a', 'r');
  n1.spec.podCIDR = '10.244.1.0/24';
  const web = pod('web', 'shop', 'n1', '10.244.1.5');
  const context = { index: new OwnerIndex({ podGraceMs: 60_000 }), classifier: new Classifier(), cloud: '', natGateway: false };
  const enricher = createEnricher({ transport: t, topics, registry, logger: createLogger('silent'), context, inventory: eventsSource([added(n1), added(web)]) });
  const prom = createRegistry();
  bindEnricherMetrics(prom, { enricher, transport: t, rawTopic: topics.raw });
  await enricher.start();
  try {
  const p = await t.producer('agent');
  // 3 flows: a known pod to the internet (1 record), an unseen pod of n1's CIDR (1 unresolved
  // record), a flow with no bytes (skipped); then a message that is not Avro (DLQ).
  await p.send(topics.raw, [
    { key: 'n1', value: rawCodec.encode(batch('n1', [flow({ src: '10.244.1.5', dst: '89.160.20.112', dport: 443, orig: 100, reply: 900 }), flow({ src: '10.244.1.77', dst: '89.160.20.112', dport: 443, orig: 10, reply: 20 }), flow({ src: '10.244.1.5', dst: '1.1.1.1', dport: 53, orig: 0, reply: 0 })])) },
    { key: 'n1', value: Buffer.from('junk') },
  ]);
  for (let i = 0; i < 300 && (await t.committed('tollgate-enricher', topics.raw)).get(0) !== 2; i++) await new Promise((r) => setTimeout(r, 10));
  const text = await prom.metrics();
  assert.equal(value(text, 'tollgate_records_in_total', 'stage="enricher"'), 3);
  assert.equal(value(text, 'tollgate_records_out_total', 'stage="enricher"'), 2);
  assert.equal(value(text, 'tollgate_bytes_total', 'stage="enricher"'), 100 + 900 + 10 + 20);
  assert.equal(value(text, 'tollgate_messages_in_total', 'stage="enricher"'), 2);
  assert.equal(value(text, 'tollgate_dlq_messages_total', 'stage="enricher",reason="decode"'), 1);
  assert.equal(value(text, 'tollgate_enricher_unresolved_records_total'), 1);
  assert.equal(value(text, 'tollgate_enricher_unresolved_bytes_total'), 30);
  assert.equal(value(text, 'tollgate_enricher_index_entries', 'what="pods"'), 1);
  assert.equal(value(text, 'tollgate_enricher_index_entries', 'what="nodes"'), 1);
  const lookups = value(text, 'tollgate_enricher_address_cache_lookups_total');
  const hits = value(text, 'tollgate_enricher_address_cache_hits_total');
  assert.equal(lookups, context.classifier.hits + context.classifier.misses);
  assert.equal(hits, context.classifier.hits);
  assert.ok(hits > 0, 'the same addresses repeat');
  assert.equal(value(text, 'tollgate_consumer_lag', `stage="enricher",topic="${topics.raw}",partition="0"`), 0);
  assert.match(text, /tollgate_batch_seconds_count\{stage="enricher"\} [1-9]/);
  // A second scrape adds nothing when nothing happened (counters follow totals, not scrapes).
  assert.equal(value(await prom.metrics(), 'tollgate_records_in_total', 'stage="enricher"'), 3);
  assert.equal(enricherMetrics.component, 'enricher');
  } finally {
    await enricher.stop();
  }
});
