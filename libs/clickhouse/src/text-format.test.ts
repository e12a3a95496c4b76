// The insert format on the real engine (embedded chDB): rows with hostile values in every String
// and Map column, written by the generated encoders (the sink's hot path, and the hand-made row
// builder through the ingest module), read back as JSON and compared with what went in.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { createLogger } from '@tollgate/log';
import { Family, fromViews, SchemaRegistry, type EndpointView, type EnrichedFlowBatch, type EnrichedFlowView } from '@tollgate/schema';
import { loadRowsModule } from './codegen.ts';
import { FLOW_TABLE, isDestinationRow, tsType } from './flows-table.ts';
import { FLOW_COLUMNS, ROLLUP_COLUMNS, ROLLUP_INSERT_COLUMNS, ROW_FORMAT, flowColumns, toFlowRows, type FlowRow } from './rows.ts';
import { textRows } from './columnar.ts';
import type { Store } from './store.ts';
import { embeddedStores, flowRow, hourAgo } from './testing.ts';
import { csvString, mapText, quoted, tsvString } from './text-format.ts';

const stores = embeddedStores('ch-format', createLogger('silent'));
after(() => stores.close());
const store = stores.store;

/** Every character class a text format treats specially, and a few that only look special. */
const HOSTILE = [
  'tab\there',
  'new\nline',
  'carriage\rreturn',
  'crlf\r\nend',
  'back\\slash',
  'ends in a backslash\\',
  '\\N',
  '\\t is not a tab',
  '\\\\n two backslashes',
  "single'quote",
  "''",
  'double"quote',
  '""',
  'comma,semicolon;pipe|',
  '{braces}',
  "['array', 1]",
  "{'k':'v'}",
  'é ü ß 漢字 😀 \u00a0nbsp \u200bzero-width',
  'nul\u0000inside',
  '\u0001\u001f\u007f controls',
  '',
  '  leading and trailing  ',
  ' ',
  'x'.repeat(5000),
];

/** A value of every String column of FLOW_TABLE but the addresses (IPv6 columns take addresses only). */
const STRING_COLUMNS = FLOW_TABLE.filter((c) => c.type === 'String').map((c) => c.name);
const MAP_COLUMNS = FLOW_TABLE.filter((c) => tsType(c.type) === 'Record<string, string>').map((c) => c.name);
/** The largest counter a message carries: avsc writes longs up to 2^53 - 2. */
const MAX = 9_007_199_254_740_990;

/** The destination columns of rollup_input as the sink writes them on other rows (their empty values). */
const DESTINATION_EMPTY = Object.fromEntries(
  FLOW_TABLE.filter((c) => c.rollupAs === 'destination').map((c) => [c.name, c.type === 'IPv6' ? '::' : tsType(c.type) === 'number' ? 0 : '']),
);

/** What the engine returns, as FlowRow values (time as Unix seconds, 64-bit integers as numbers). */
async function readBack(s: Store, table: string, columns: readonly string[], order: string): Promise<Record<string, unknown>[]> {
  const list = columns.map((c) => (c === 'time' ? 'toUnixTimestamp(time) AS time' : /_ip$/.test(c) ? `toString(${c}) AS ${c}` : c)).join(', ');
  const rs = await s.client.query({
    query: `SELECT ${list} FROM ${s.database}.${table} ORDER BY ${order} SETTINGS output_format_json_quote_64bit_integers = 0`,
    format: 'JSONEachRow',
  });
  return rs.json<Record<string, unknown>>();
}

const pick = (r: FlowRow, columns: readonly string[]) => Object.fromEntries(columns.map((c) => [c, r[c as keyof FlowRow]]));

test('the escaping of each format, value by value', () => {
  assert.equal(tsvString('a\tb\nc\\d\re\0f'), 'a\\tb\\nc\\\\d\\re\\0f');
  assert.equal(tsvString("it's \"plain\""), "it's \"plain\"");
  assert.equal(quoted("a'b\\c\td"), "'a\\'b\\\\c\\td'");
  assert.equal(mapText({ "k'": 'v\n', x: '' }), "{'k\\'':'v\\n','x':''}");
  assert.equal(mapText({}), '{}');
  assert.equal(csvString('a"b,c\nd'), '"a""b,c\nd"');
});

/** Row k has HOSTILE[k] in every String column, and hostile keys and values in its Map. */
function hostileRows(time: number): FlowRow[] {
  return HOSTILE.map((h, k) => {
    const r = flowRow({ time, src_offset: k, local_ip: '::ffff:10.0.0.1', remote_ip: k % 2 ? '2001:db8::1' : '::', conntrack_id: MAX - k, egress_bytes: MAX, ingress_bytes: 0, egress_packets: MAX - 1, ingress_packets: k, remote_asn: 4_294_967_295, local_port: 65_535, remote_port: 0, protocol: 255, nat_gateway: k % 2 === 0, src_seq: MAX, src_partition: 4_294_967_295 });
    const row = r as unknown as Record<string, unknown>;
    // (src_topic is part of the chunk's dedup token, which takes [A-Za-z0-9._/#-] only.)
    for (const c of STRING_COLUMNS) if (c !== 'src_topic') row[c] = h;
    row.local_labels = { [h]: h, [`key ${k}`]: HOSTILE[(k + 1) % HOSTILE.length]!, "'": '\\' };
    return r;
  });
}

/** A message with hostile strings everywhere the enriched record has strings, through the Avro codec. */
function hostileMessage(time: number): EnrichedFlowBatch {
  const codec = SchemaRegistry.load().codec<EnrichedFlowBatch>(Family.enriched);
  const ep = (h: string, k: number, ip: string): EndpointView => ({
    ip, port: 1000 + k, kind: 'POD', cluster: h, namespace: h, workload_kind: h, workload: `${h}#${k}`, pod: h, node: h, zone: h, region: h, country: h, asn: k, as_org: h, service: h,
    labels: { [h]: h, [`${k}`]: h, '': '' },
  });
  const views: EnrichedFlowView[] = HOSTILE.map((h, k) => ({
    time: time * 1000 + k, conntrack_id: MAX - k, protocol: 17, family: 'IPV6', role: k % 2 ? 'INITIATOR' : 'RESPONDER',
    local: ep(h, k, '2001:db8::a'), remote: ep(HOSTILE[(k + 3) % HOSTILE.length]!, k, k % 3 ? '' : 'fe80::1%eth0'),
    class: k % 2 ? 'CLOUD_SERVICE' : 'INTERNET', cloud: 'aws', cloud_service: '', cloud_service_region: '', service: h, nat_gateway: k % 3 === 0,
    egress_bytes: MAX - k, ingress_bytes: k, egress_packets: 1, ingress_packets: MAX,
  }));
  const sent = fromViews({ cluster: HOSTILE[0]!, node: HOSTILE[1]!, cloud: HOSTILE[4]!, window_start: time * 1000, window_end: time * 1000 + 60_000, source: { agent_id: HOSTILE[9]!, seq: MAX, topic: 'raw', partition: 0, offset: 0 } }, views);
  return codec.decode(codec.encode(sent));
}

test(`hostile strings in every String and Map column survive the sink's flows insert (Arrow columns into chDB) through the ingest module`, async () => {
  // The column types this test covers; a new type in FLOW_TABLE (Array, Nullable, DateTime64, ...) needs its case here.
  const covered = new Set(['String', 'IPv6', 'Map(String, String)', 'Bool', "DateTime('UTC')", 'UInt8', 'UInt16', 'UInt32', 'UInt64']);
  assert.deepEqual(FLOW_TABLE.filter((c) => !covered.has(c.type)).map((c) => `${c.name} ${c.type}`), []);
  assert.deepEqual([STRING_COLUMNS.length, MAP_COLUMNS], [29, ['local_labels']]);
  const s = await store('hostile_ingest');
  const rows = hostileRows(hourAgo(2));
  await s.insertFlows(rows);
  const got = await readBack(s, 'flows', FLOW_COLUMNS, 'src_offset');
  assert.equal(got.length, rows.length);
  for (let k = 0; k < rows.length; k++) assert.deepEqual(got[k], pick(rows[k]!, FLOW_COLUMNS), `row ${k}: ${JSON.stringify(HOSTILE[k]!.slice(0, 40))}`);
});

test('the flows columns of a hostile message (flowColumns) reach the engine exactly, as Arrow (embedded) and as text (a server), with the largest counters', async () => {
  const s = await store('hostile_columns');
  const db = s.database;
  await s.client.command({ query: `CREATE TABLE ${db}.flows_text AS ${db}.flows` });
  const time = hourAgo(2);
  const batch = hostileMessage(time);
  const src = { topic: 'flows.enriched.v1', partition: 7, offset: MAX };
  const blocks = [flowColumns(batch, src), flowColumns(batch, { ...src, offset: 1 })];
  const want = [...toFlowRows(batch, src), ...toFlowRows(batch, { ...src, offset: 1 })].map((r) => ({ ...r, local_ip: '2001:db8::a', remote_ip: r.remote_ip === '::' ? '::' : 'fe80::1' }));
  await s.flowsInsert(`${db}.flows`, blocks, { insert_deduplicate: 0 });
  await s.rawInsert(`${db}.flows_text`, FLOW_COLUMNS, textRows(blocks), { insert_deduplicate: 0 }, ROW_FORMAT);
  const order = 'src_offset, conntrack_id DESC';
  assert.deepEqual(await readBack(s, 'flows', FLOW_COLUMNS, order), [...want].sort((a, b) => a.src_offset - b.src_offset || b.conntrack_id - a.conntrack_id).map((r) => pick(r, FLOW_COLUMNS)));
  assert.deepEqual(await readBack(s, 'flows_text', FLOW_COLUMNS, order), await readBack(s, 'flows', FLOW_COLUMNS, order));
});

for (const format of ['TabSeparated', 'CSV', 'JSONCompactEachRow'] as const) {
  test(`${format}: the generated encoders (hot path and row builder) write hostile values that the engine reads back exactly, flows and rollup_input`, async () => {
    const m = format === ROW_FORMAT ? await import('./rows.ts') : await loadRowsModule(format);
    assert.equal(m.ROW_FORMAT, format);
    const s = await store(`hostile_${format.toLowerCase()}`);
    const db = s.database;
    await s.client.command({ query: `CREATE TABLE ${db}.rollup_copy AS ${db}.rollup_input ENGINE = MergeTree ORDER BY tuple()` });
    await s.client.command({ query: `CREATE TABLE ${db}.flows_copy AS ${db}.flows` });
    const time = hourAgo(2);
    const batch = hostileMessage(time);
    const src = { topic: 'flows.enriched.v1', partition: 7, offset: MAX };
    const enc = { flows: m.encodeFlowRows(batch, src), rollup: m.encodeRollupRows(batch, src) };
    const settings = { insert_deduplicate: 0 };
    await s.rawInsert(`${db}.flows`, FLOW_COLUMNS, enc.flows.body, settings, format);
    await s.rawInsert(`${db}.rollup_copy`, ROLLUP_INSERT_COLUMNS, enc.rollup.body, settings, format);
    // The truth: the row builder's objects (no text format in between), with the engine's textual addresses.
    const want = toFlowRows(batch, src).map((r) => ({ ...r, local_ip: '2001:db8::a', remote_ip: r.remote_ip === '::' ? '::' : 'fe80::1' }));
    for (const h of HOSTILE) assert.ok(want.some((r) => r.local_namespace === h && r.local_labels[h] === h && r.service === h), `the message holds ${JSON.stringify(h.slice(0, 40))}`);
    assert.deepEqual(await readBack(s, 'flows', FLOW_COLUMNS, 'conntrack_id DESC'), want.map((r) => pick(r, FLOW_COLUMNS)));
    // rollup_input: no two flows share their rollup values here (nothing folds); the time to the
    // hour, the remote columns empty but on destination rows, one flow each.
    const folded = want.map((r) => ({
      ...r,
      time: Math.floor(r.time / 3600) * 3600,
      ...(isDestinationRow(r.role, r.class.toUpperCase()) ? {} : DESTINATION_EMPTY),
    }));
    assert.equal(enc.rollup.rows, want.length);
    assert.deepEqual(
      await readBack(s, 'rollup_copy', [...ROLLUP_COLUMNS, 'flows'], 'egress_bytes DESC'),
      folded.map((r) => ({ ...pick(r, ROLLUP_COLUMNS), flows: 1 })),
    );
    // Hand-made rows (every String column hostile, symbols too) through the row builder.
    const rows = hostileRows(time);
    await s.rawInsert(`${db}.flows_copy`, FLOW_COLUMNS, rows.map((r) => `${m.formatFlowRow(r)}\n`).join(''), settings, format);
    assert.deepEqual(await readBack(s, 'flows_copy', FLOW_COLUMNS, 'src_offset'), rows.map((r) => pick(r, FLOW_COLUMNS)));
  });
}
