// The sink folds each message's rollup_input rows (rows.generated.ts, encodeRows: one row per
// distinct rollup value, the time to the hour, the remote columns only on destination rows,
// bytes and packets summed, `flows` the number of flows folded). The truth is the feed without
// folding: one rollup_input row per flow (rollupBlock of toFlowRows, weight 1), as the views saw
// it before. The simulated cluster's messages go through the ingest module both ways, into two
// databases; every table that a view on rollup_input writes (found in system.tables, so a view
// added later is covered too) must then hold exactly the same rows.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { createLogger } from '@tollgate/log';
import { createIngest, encodeRollupRows, flowColumns, rollupBlock, toFlowRows, type IngestItem, type Store } from '@tollgate/clickhouse';
import { embeddedStores } from '@tollgate/clickhouse/testing';
import { replayMessages } from '@tollgate/agent';
import { createEnrichContext, enrichBatch, loadEnricherSettings } from '@tollgate/enricher';
import { Family, SchemaRegistry, type EnrichedFlowBatch, type RawFlowBatch } from '@tollgate/schema';
import { createScenario, DAY } from '@tollgate/sim';

const logger = createLogger('silent');
const stores = embeddedStores('rollup-feed', logger);
after(() => stores.close());

const TOPIC = 'flows.enriched.v1';

function messages(): EnrichedFlowBatch[] {
  const scenario = createScenario({ seed: 5, days: 3, scale: 2, start: Math.floor(Date.now() / DAY) * DAY - 3 * DAY });
  const registry = SchemaRegistry.load();
  const raw = registry.codec<RawFlowBatch>(Family.raw);
  const ctx = createEnrichContext(loadEnricherSettings({ ...scenario.enricherEnv, TOLLGATE_K8S_SOURCE: 'sim', TOLLGATE_CHARGEBACK_LABELS: 'app' }));
  for (const e of scenario.inventory) ctx.index.apply(e);
  const out: EnrichedFlowBatch[] = [];
  for (const node of scenario.nodes) {
    const r = replayMessages(scenario.ticks(node), { cluster: scenario.cluster, node, agentId: `${node}@feed`, batchMaxFlows: 500, registry });
    for (const m of r.messages) {
      const b = enrichBatch(raw.decode(m), { agent_id: `${node}@feed`, seq: out.length, topic: 'flows.raw.v1', partition: 0, offset: out.length }, ctx);
      if (b.flows.length > 0) out.push(b);
    }
  }
  return out;
}

async function feed(store: Store, batches: readonly EnrichedFlowBatch[], folded: boolean): Promise<number> {
  const ingest = createIngest(store, { maxChunkRows: 50_000, owner: `feed-${folded}`, logger });
  await ingest.resume(TOPIC, [0]);
  let rollupRows = 0;
  const items: IngestItem[] = batches.map((b, offset) => {
    const src = { topic: TOPIC, partition: 0, offset };
    const d = new Date(b.window_start);
    const month = d.getUTCFullYear() * 12 + d.getUTCMonth();
    const item = { offset, month, flows: flowColumns(b, src), rollup: folded ? encodeRollupRows(b, src) : rollupBlock(toFlowRows(b, src)) };
    rollupRows += item.rollup.rows;
    return item;
  });
  for (let i = 0; i < items.length; i += 100) {
    const part = items.slice(i, i + 100);
    await ingest.store(TOPIC, 0, part, part[part.length - 1]!.offset, async (o, why) => assert.fail(`message ${o} rejected: ${why}`));
  }
  return rollupRows;
}

/** The tables the materialized views on rollup_input write. */
async function rollupTargets(store: Store): Promise<string[]> {
  const rs = await store.client.query({
    query: `SELECT create_table_query AS q FROM system.tables WHERE database = {db:String} AND engine = 'MaterializedView'`,
    query_params: { db: store.database },
    format: 'JSONEachRow',
  });
  const out: string[] = [];
  for (const { q } of await rs.json<{ q: string }>()) {
    if (!/\bFROM\s+`?\w+`?\.`?rollup_input`?/.test(q)) continue;
    const to = /\bTO\s+`?\w+`?\.`?(\w+)`?/.exec(q);
    assert.ok(to, `a view on rollup_input without a TO table: ${q.slice(0, 120)}`);
    out.push(to[1]!);
  }
  return out.sort();
}

async function contents(store: Store, table: string): Promise<string[]> {
  await store.client.command({ query: `OPTIMIZE TABLE ${store.database}.${table} FINAL` });
  const rs = await store.client.query({ query: `SELECT * FROM ${store.database}.${table} FINAL`, format: 'JSONEachRow' });
  return (await rs.json<Record<string, unknown>>()).map((r) => JSON.stringify(r)).sort();
}

test('folded rollup_input rows give every rollup exactly what one row per flow gives', async () => {
  const batches = messages();
  const flows = batches.reduce((n, b) => n + b.flows.length, 0);
  const folded = await stores.store('feed_folded');
  const perFlow = await stores.store('feed_per_flow');
  const foldedRows = await feed(folded, batches, true);
  const perFlowRows = await feed(perFlow, batches, false);
  assert.equal(perFlowRows, flows);
  // Folding is what makes the feed cheap: the simulated cluster's messages fold several times over.
  assert.ok(foldedRows * 3 < flows, `folded ${foldedRows} rollup_input rows for ${flows} flows`);

  const targets = await rollupTargets(folded);
  assert.deepEqual(await rollupTargets(perFlow), targets);
  for (const t of ['workload_hourly', 'workload_daily', 'destinations_hourly', 'label_hourly', 'destination_keys_daily', 'workload_egress_hourly']) assert.ok(targets.includes(t), `${t} is fed by rollup_input`);
  for (const t of targets) {
    const want = await contents(perFlow, t);
    assert.ok(want.length > 0, `${t} holds rows`);
    assert.deepEqual(await contents(folded, t), want, t);
  }
  // And the flows themselves, once each.
  const count = async (s: Store) => (await (await s.client.query({ query: `SELECT toString(count()) AS n, toString(sum(flows)) AS w FROM ${s.database}.workload_hourly`, format: 'JSONEachRow' })).json<{ n: string; w: string }>())[0]!;
  assert.equal(Number((await count(folded)).w), flows);
});
