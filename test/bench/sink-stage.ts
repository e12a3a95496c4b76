// The sink stage alone, in this process, on the pipeline's own enriched messages:
//   - the sink as it runs (createSink: decode, validate, encode, the ingest protocol), on the
//     in-process transport, until it has committed the last message;
//   - the baseline: the sink's store path before issue 9 (the hand-written encoder, the old
//     ledger/flows/read-back rollup protocol), decoding the same messages, same chunk size.
// Each on a fresh database; the best of `rounds`, in wall time and in the process's CPU time
// (the machine is shared: CPU time moves less with the others' load).
import assert from 'node:assert/strict';
import { flowRowValues, openStore, toFlowRows, type RowBlock } from '@tollgate/clickhouse';
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
  // The truth both paths must store, from the decoded messages (not from either encoder).
  const truth = { rows: 0, egress: 0n, ingress: 0n, packets: 0n };
  for (let i = 0; i < o.messages.length; i++) {
    const b = codec.decode(o.messages[i]!);
    for (const f of b.flows) {
      truth.rows++;
      truth.egress += BigInt(f.egress_bytes);
      truth.ingress += BigInt(f.ingress_bytes);
      truth.packets += BigInt(f.egress_packets + f.ingress_packets);
    }
    // The legacy encoder writes the row builder's values as JSON, column for column (46 of 46).
    const src = { topic: 'flows.enriched.v1', partition: 0, offset: i };
    if (i < 3) assert.equal(legacyEncodeFlowRows(b, src).body, toFlowRows(b, src).map((r) => `${JSON.stringify(flowRowValues(r))}\n`).join(''));
  }
  if (truth.rows !== o.rows) throw new Error(`the messages hold ${truth.rows} rows, expected ${o.rows}`);
  const stored = async (store: Awaited<ReturnType<typeof fresh>>) => {
    const q = async (table: string, extra: string) => {
      const rs = await store.client.query({
        query: `SELECT toString(count()) AS n, toString(sum(egress_bytes)) AS egress, toString(sum(ingress_bytes)) AS ingress, toString(sum(egress_packets + ingress_packets)) AS packets${extra} FROM ${store.database}.${table}`,
        format: 'JSONEachRow',
      });
      const r = (await rs.json<{ n: string; egress: string; ingress: string; packets: string }>())[0]!;
      return { rows: Number(r.n), egress: BigInt(r.egress), ingress: BigInt(r.ingress), packets: BigInt(r.packets) };
    };
    return { flows: await q('flows', ''), rollup: await q('workload_hourly', '') };
  };
  const check = async (what: string, store: Awaited<ReturnType<typeof fresh>>) => {
    const s = await stored(store);
    assert.deepEqual(s.flows, truth, `${what}: flows`);
    assert.deepEqual({ egress: s.rollup.egress, ingress: s.rollup.ingress }, { egress: truth.egress, ingress: truth.ingress }, `${what}: workload_hourly`);
  };

  /** Wall seconds of `fn`, and the process's CPU seconds in it (chDB's threads included). */
  const timed = async (fn: () => Promise<number>): Promise<{ wall: number; cpu: number }> => {
    const c0 = process.cpuUsage();
    const wall = await fn();
    const c = process.cpuUsage(c0);
    return { wall, cpu: (c.user + c.system) / 1e6 };
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
    await check('sink stage', store);
    await store.close();
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
    await check('legacy sink', store);
    await store.close();
    return s;
  };

  const rounds = o.rounds ?? 2;
  const stageR: Array<{ wall: number; cpu: number }> = [];
  const legacyR: Array<{ wall: number; cpu: number }> = [];
  for (let r = 0; r < rounds; r++) {
    legacyR.push(await timed(legacy));
    stageR.push(await timed(stage));
  }
  const min = (xs: number[]) => Math.min(...xs);
  return {
    stageSeconds: min(stageR.map((x) => x.wall)),
    legacySeconds: min(legacyR.map((x) => x.wall)),
    stageCpuSeconds: min(stageR.map((x) => x.cpu)),
    legacyCpuSeconds: min(legacyR.map((x) => x.cpu)),
    stageRounds: stageR.map((x) => x.wall),
    legacyRounds: legacyR.map((x) => x.wall),
  };
}
