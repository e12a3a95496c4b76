// The sink stage alone, in this process, on the pipeline's own enriched messages:
//   - the sink as it runs (createSink: decode, validate, encode, the ingest protocol), on the
//     in-process transport, until it has committed the last message;
//   - the baseline: the sink's store path before issue 9 (the hand-written encoder, the old
//     ledger/flows/read-back rollup protocol), decoding the same messages, same chunk size.
// Each on a fresh database; the best of `rounds`.
import { openStore, type RowBlock } from '@tollgate/clickhouse';
import type { Logger } from '@tollgate/log';
import { allTopics, caughtUp, MemoryTransport, topicNames } from '@tollgate/pipeline';
import { Family, type EnrichedFlowBatch, type SchemaRegistry } from '@tollgate/schema';
import { createSink } from '@tollgate/sink';
import { legacyEncodeFlowRows, legacyStoreChunk } from './legacy-sink.ts';

const BATCH_ROWS = 100_000;

export async function benchSinkStage(o: { messages: Buffer[]; rows: number; dataDir: string; registry: SchemaRegistry; logger: Logger; rounds?: number }) {
  const codec = o.registry.codec<EnrichedFlowBatch>(Family.enriched);
  let db = 0;
  const fresh = async () => {
    const store = await openStore({ url: '', user: 'default', password: '', database: `bench_sink_${db++}`, dataDir: o.dataDir }, o.logger);
    await store.migrate();
    return store;
  };
  const count = async (store: Awaited<ReturnType<typeof fresh>>) => {
    const rs = await store.client.query({ query: `SELECT toString(count()) AS n FROM ${store.database}.flows`, format: 'JSONEachRow' });
    return Number((await rs.json<{ n: string }>())[0]!.n);
  };

  const stage = async (): Promise<number> => {
    const store = await fresh();
    const transport = new MemoryTransport();
    const topics = topicNames('bench-sink');
    await transport.ensureTopics(allTopics(topics), 1);
    const producer = await transport.producer('bench');
    await producer.send(topics.enriched, o.messages.map((value) => ({ key: 'n', value })));
    const t0 = performance.now();
    const sink = createSink({ transport, store, topics, settings: { batchRows: BATCH_ROWS, flushMs: 50 }, logger: o.logger, registry: o.registry });
    await sink.start();
    while (!(await caughtUp(transport, 'tollgate-sink', topics.enriched))) await new Promise((r) => setTimeout(r, 5));
    const s = (performance.now() - t0) / 1000;
    await sink.stop();
    const stored = await count(store);
    await store.close();
    if (stored !== o.rows) throw new Error(`sink stage stored ${stored} rows, expected ${o.rows}`);
    return s;
  };

  const legacy = async (): Promise<number> => {
    const store = await fresh();
    const t0 = performance.now();
    let blocks: RowBlock[] = [];
    let rows = 0;
    let first = 0;
    let month = -1;
    const flush = async (last: number) => {
      await legacyStoreChunk(store, { topic: 'flows.enriched.v1', partition: 0, first, last, rows, blocks });
      blocks = [];
      rows = 0;
      first = last + 1;
    };
    for (let i = 0; i < o.messages.length; i++) {
      const b = codec.decode(o.messages[i]!);
      const d = new Date(b.window_start);
      const m = d.getUTCFullYear() * 12 + d.getUTCMonth();
      if (rows > 0 && m !== month) await flush(i - 1);
      month = m;
      const block = legacyEncodeFlowRows(b, { topic: 'flows.enriched.v1', partition: 0, offset: i });
      if (rows > 0 && rows + block.rows > BATCH_ROWS) await flush(i - 1);
      blocks.push(block);
      rows += block.rows;
    }
    if (rows) await flush(o.messages.length - 1);
    const s = (performance.now() - t0) / 1000;
    const stored = await count(store);
    await store.close();
    if (stored !== o.rows) throw new Error(`legacy sink stored ${stored} rows, expected ${o.rows}`);
    return s;
  };

  const rounds = o.rounds ?? 2;
  const stageS: number[] = [];
  const legacyS: number[] = [];
  for (let r = 0; r < rounds; r++) {
    legacyS.push(await legacy());
    stageS.push(await stage());
  }
  return { stageSeconds: Math.min(...stageS), legacySeconds: Math.min(...legacyS), stageRounds: stageS, legacyRounds: legacyS };
}
