// The insert formats side by side, in one run: the generated encoders (codegen.ts, one module per
// format, from the same FLOW_TABLE) write the same decoded messages as flows rows in chunks of the
// sink's size, inserted by chDB's raw insert into a fresh database per format and round; and the
// embedded store's own path, the same rows as Arrow columns (columnar.ts, store.flowsInsert). Encoding
// and inserting are timed apart (not overlapped, as the sink does); each run checks the stored
// rows and byte sums against a truth from the decoded messages.
import assert from 'node:assert/strict';
import { FLOW_COLUMNS, flowColumns, openStore, type FlowColumns, type InsertFormat, type RowBlock, type Store } from '@tollgate/clickhouse';
import { loadRowsModule } from '@tollgate/clickhouse/testing';
import type { Logger } from '@tollgate/log';
import { Family, type EnrichedFlowBatch, type SchemaRegistry } from '@tollgate/schema';

export const FORMATS: readonly InsertFormat[] = ['JSONCompactEachRow', 'TabSeparated', 'CSV'];
/** The embedded store's own path (columnar.ts): the rows' columns as Arrow, read by INSERT ... SELECT FROM arrowstream. */
export const ARROW = 'Arrow';

export interface FormatFigures {
  encodeSeconds: number;
  insertSeconds: number;
  bytes: number;
}

export async function benchInsertFormats(o: { messages: Buffer[]; dataDir: string; registry: SchemaRegistry; logger: Logger; chunkRows: number; rounds?: number }): Promise<Record<InsertFormat | typeof ARROW, FormatFigures>> {
  const codec = o.registry.codec<EnrichedFlowBatch>(Family.enriched);
  const batches = o.messages.map((m) => codec.decode(m));
  const truth = { rows: 0, egress: 0n };
  for (const b of batches) for (const f of b.flows) {
    truth.rows++;
    truth.egress += BigInt(f.egress_bytes);
  }
  const modules = new Map(await Promise.all(FORMATS.map(async (f) => [f, await loadRowsModule(f)] as const)));
  const best = new Map<InsertFormat | typeof ARROW, FormatFigures>();
  const one = { insert_deduplicate: 0, max_insert_block_size: 2_097_152, min_insert_block_size_rows: 2_097_152, min_insert_block_size_bytes: 0 };
  let db = 0;
  /** One path on a fresh database: each message encoded, chunks of o.chunkRows inserted, the stored rows checked. */
  const measure = async <B extends { rows: number }>(name: InsertFormat | typeof ARROW, encode: (b: EnrichedFlowBatch, offset: number) => B, insert: (store: Store, blocks: B[]) => Promise<number>) => {
    const store = await openStore({ url: '', user: 'default', password: '', database: `bench_format_${db++}`, dataDir: o.dataDir }, o.logger);
    await store.migrate();
    let encodeSeconds = 0;
    let insertSeconds = 0;
    let bytes = 0;
    let blocks: B[] = [];
    let rows = 0;
    const flush = async () => {
      const t = performance.now();
      bytes += await insert(store, blocks);
      insertSeconds += (performance.now() - t) / 1000;
      blocks = [];
      rows = 0;
    };
    for (let i = 0; i < batches.length; i++) {
      const t = performance.now();
      const block = encode(batches[i]!, i);
      encodeSeconds += (performance.now() - t) / 1000;
      if (rows > 0 && rows + block.rows > o.chunkRows) await flush();
      blocks.push(block);
      rows += block.rows;
    }
    if (rows > 0) await flush();
    const rs = await store.client.query({ query: `SELECT toString(count()) AS n, toString(sum(egress_bytes)) AS e FROM ${store.database}.flows`, format: 'JSONEachRow' });
    const [got] = await rs.json<{ n: string; e: string }>();
    assert.deepEqual({ rows: Number(got!.n), egress: BigInt(got!.e) }, truth, `${name}: flows`);
    await store.client.command({ query: `DROP DATABASE ${store.database}` });
    await store.close();
    const prev = best.get(name);
    if (!prev || encodeSeconds + insertSeconds < prev.encodeSeconds + prev.insertSeconds) best.set(name, { encodeSeconds, insertSeconds, bytes });
  };
  const src = (offset: number) => ({ topic: 'flows.enriched.v1', partition: 0, offset });
  const rounds = o.rounds ?? 2;
  for (let round = 0; round < rounds; round++) {
    // Each round in another order (the first insert of a process is slower).
    for (const format of [...FORMATS.slice(round % FORMATS.length), ...FORMATS.slice(0, round % FORMATS.length)]) {
      const m = modules.get(format)!;
      await measure<RowBlock>(format, (b, i) => m.encodeFlowRows(b, src(i)), async (store, blocks) => {
        const body = blocks.map((b) => b.body).join('');
        await store.rawInsert(`${store.database}.flows`, FLOW_COLUMNS, body, { ...one, input_format_parallel_parsing: 1 }, format);
        return Buffer.byteLength(body);
      });
    }
    // Arrow: encode is the rows' columns (flowColumns); the insert includes their Arrow buffers
    // (arrowColumns, in the store) and what the engine does with them (no body: bytes 0).
    await measure<FlowColumns>(ARROW, (b, i) => flowColumns(b, src(i)), async (store, blocks) => {
      await store.flowsInsert(`${store.database}.flows`, blocks, one);
      return 0;
    });
  }
  return Object.fromEntries(best) as Record<InsertFormat | typeof ARROW, FormatFigures>;
}
