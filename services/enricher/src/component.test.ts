import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createLogger } from '@tollgate/log';
import { allTopics, DlqHeaders, dlqTopic, MemoryTransport, topicNames, type InMessage, type Transport } from '@tollgate/pipeline';
import { Family, SchemaRegistry, viewEnriched, type EnrichedFlowBatch, type RawFlowBatch } from '@tollgate/schema';
import { Classifier, type IpInfo } from './classifier.ts';
import { createEnricher } from './component.ts';
import { eventsSource } from './inventory.ts';
import { OwnerIndex } from './owner-index.ts';
import { added, batch, flow, node, pod, workload } from './testkit.ts';

const registry = SchemaRegistry.load();
const rawCodec = registry.codec<RawFlowBatch>(Family.raw);
const outCodec = registry.codec<EnrichedFlowBatch>(Family.enriched);
const logger = createLogger('silent');
const topics = topicNames('t');

const n1 = node('n1', '10.0.1.10', 'us-east-1a', 'us-east-1');
const n2 = node('n2', '10.0.2.10', 'us-east-1b', 'us-east-1');
const d = workload('Deployment', 'web', 'shop');
const rs = workload('ReplicaSet', 'web-1', 'shop', d);
const web = pod('web-1-a', 'shop', 'n1', '10.244.1.5', { owner: rs });
const inventory = [n1, n2, d, rs, web].map((o) => added(o));

/** A classifier that fails on one address: an enrichment that can never succeed. */
class Brittle extends Classifier {
  override info(raw: string): IpInfo {
    if (raw === '6.6.6.6') throw new Error('boom on 6.6.6.6');
    return super.info(raw);
  }
}

async function drain(t: Transport, topic: string): Promise<InMessage[]> {
  const got: InMessage[] = [];
  const end = [...(await t.endOffsets(topic)).values()].reduce((a, b) => a + b, 0);
  if (end === 0) return got;
  const c = await t.consumer('reader', { groupId: `reader-${topic}`, topics: [topic] });
  await c.run(async (b) => void got.push(...b));
  while (got.length < end) await new Promise((r) => setTimeout(r, 5));
  await c.close();
  return got;
}

async function until(cond: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 400 && !(await cond()); i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(await cond(), 'condition not reached');
}

test('poison and unenrichable messages go to the DLQ with the reason; the next message is still enriched', async () => {
  const t = new MemoryTransport();
  await t.ensureTopics(allTopics(topics), 1);
  const context = { index: new OwnerIndex({ podGraceMs: 60_000 }), classifier: new Brittle(), cloud: '', natGateway: false };
  const enricher = createEnricher({ transport: t, topics, registry, logger, context, inventory: eventsSource(inventory), maxBatch: 10 });
  await enricher.start();
  const p = await t.producer('agent');
  const good = batch('n1', [flow({ src: '10.244.1.5', dst: '89.160.20.112', dport: 443, orig: 100, reply: 900 })]);
  await p.send(topics.raw, [
    { key: 'n1', value: Buffer.from('not avro at all') },
    { key: 'n1', value: rawCodec.encode(batch('n1', [flow({ src: '10.244.1.5', dst: '6.6.6.6', dport: 443, orig: 1, reply: 1 })])) },
    { key: 'n1', value: rawCodec.encode(good) },
    { key: 'n1', value: rawCodec.encode(batch('n1', [flow({ src: '10.0.2.10', dst: '89.160.20.113', dport: 1, orig: 5, reply: 5 })])) }, // node n2 and the internet: nobody local to n1
  ]);
  await until(async () => (await t.committed('tollgate-enricher', topics.raw)).get(0) === 4);

  const dlq = await drain(t, dlqTopic(topics.raw));
  assert.equal(dlq.length, 2);
  assert.equal(dlq[0]!.value.toString(), 'not avro at all', 'original bytes kept');
  assert.match(dlq[0]!.headers[DlqHeaders.reason]!, /^decode: not an Avro single-object message/);
  assert.equal(dlq[0]!.headers[DlqHeaders.offset], '0');
  assert.match(dlq[1]!.headers[DlqHeaders.reason]!, /^enrich: boom on 6\.6\.6\.6/);
  assert.equal(dlq[1]!.headers[DlqHeaders.stage], 'enricher');

  const out = await drain(t, topics.enriched);
  assert.equal(out.length, 1, 'one enriched message; the one without local flows is skipped');
  assert.equal(out[0]!.key, 'n1');
  const e = outCodec.decode(out[0]!.value);
  assert.deepEqual({ ...e.source }, { agent_id: 'n1@1', seq: 0, topic: topics.raw, partition: 0, offset: 2 });
  assert.equal(e.flows.length, 1);
  const f = viewEnriched(e)[0]!;
  assert.deepEqual([f.local.workload, f.class, f.egress_bytes, f.ingress_bytes], ['web', 'INTERNET', 100, 900]);

  const s = enricher.stats();
  assert.deepEqual([s.messages, s.produced, s.dlq, s.emptyMessages, s.records, s.unattributed, s.inventoryEvents], [4, 1, 2, 1, 1, 1, 5]);
  await enricher.stop();
  await enricher.stop();
  await enricher.done;
});

test('nothing is committed while the enriched batch cannot be produced', async () => {
  const t = new MemoryTransport();
  await t.ensureTopics([topics.raw, dlqTopic(topics.raw)], 1); // the enriched topic is missing: every produce fails
  const context = { index: new OwnerIndex({ podGraceMs: 60_000 }), classifier: new Classifier(), cloud: '', natGateway: false };
  const enricher = createEnricher({ transport: t, topics, registry, logger, context, inventory: eventsSource(inventory) });
  await enricher.start();
  const p = await t.producer('agent');
  await p.send(topics.raw, [{ key: 'n1', value: rawCodec.encode(batch('n1', [flow({ src: '10.244.1.5', dst: '89.160.20.112', dport: 443, orig: 1, reply: 1 })])) }]);
  await assert.rejects(enricher.done, /unknown topic/);
  assert.equal((await t.committed('tollgate-enricher', topics.raw)).get(0) ?? 0, 0);
  await enricher.stop();
});
