import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, readFileSync, writeFileSync, cpSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SchemaRegistry, DecodeError, DEFAULT_SCHEMA_DIR, messageFingerprint } from './registry.ts';
import { crc64Avro } from './crc64.ts';
import { generateTypes, GENERATED_FILE } from './codegen.ts';
import type { RawFlowBatch } from './types.generated.ts';

const batch: RawFlowBatch = {
  cluster: 'prod', node: 'node-a', agent_id: 'node-a/1', seq: 7, window_start: 1_700_000_000_000, window_end: 1_700_000_010_000,
  flows: [{
    conntrack_id: 42, protocol: 6, family: 'IPV4',
    original: { src: '10.244.1.5', dst: '10.96.0.10', sport: 40000, dport: 80 },
    reply: { src: '10.244.2.9', dst: '10.244.1.5', sport: 8080, dport: 40000 },
    orig_bytes: 1234, orig_packets: 10, reply_bytes: 98765, reply_packets: 70, flow_start: 1_700_000_000_500, final: true,
  }],
};

test('single-object encoding: marker, CRC-64-AVRO of the canonical schema, body; round trip', () => {
  const reg = SchemaRegistry.load();
  const codec = reg.codec<RawFlowBatch>('raw-flow-batch');
  const msg = codec.encode(batch);
  assert.equal(msg[0], 0xc3);
  assert.equal(msg[1], 0x01);
  assert.equal(messageFingerprint(msg), crc64Avro(JSON.stringify(codec.type.schema())));
  assert.deepEqual({ ...codec.decode(msg), flows: codec.decode(msg).flows.map((f) => ({ ...f, original: { ...f.original }, reply: { ...f.reply } })) }, batch);
});

test('a newer reader resolves data written with an older version of the schema', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-schemas-'));
  cpSync(DEFAULT_SCHEMA_DIR, dir, { recursive: true });
  const v1 = JSON.parse(readFileSync(join(dir, 'raw-flow-batch', 'v1.avsc'), 'utf8'));
  const v2 = structuredClone(v1);
  v2.fields.push({ name: 'agent_version', type: 'string', default: 'unknown' });
  writeFileSync(join(dir, 'raw-flow-batch', 'v2.avsc'), JSON.stringify(v2));
  const reg = SchemaRegistry.load(dir);
  const old = reg.writerCodec<RawFlowBatch>('raw-flow-batch', 1).encode(batch);
  const reader = reg.codec<RawFlowBatch & { agent_version: string }>('raw-flow-batch');
  assert.equal(reader.version, 2);
  const got = reader.decode(old);
  assert.equal(got.agent_version, 'unknown');
  assert.equal(got.flows[0]?.reply.src, '10.244.2.9');
  assert.equal(got.flows[0]?.reply_bytes, 98765);
});

test('an unknown fingerprint, a foreign family, a bad marker and a truncated body are permanent DecodeErrors', () => {
  const reg = SchemaRegistry.load();
  const codec = reg.codec<RawFlowBatch>('raw-flow-batch');
  const msg = codec.encode(batch);
  const unknown = Buffer.from(msg);
  unknown.writeBigUInt64LE(0x1234n, 2);
  const cases: Array<[Buffer, string]> = [
    [unknown, 'unknown-schema'],
    [reg.codec('anomaly-event').encode({
      id: 'x', detected_at: 0, window_start: 0, window_end: 0, cluster: '', namespace: '', workload_kind: '', workload: '', rule: 'MINING_PORT',
      destination: { country: '', asn: 0, ip: '', port: 0 }, bytes: 0, baseline_bytes: 0, score: 0, severity: 'LOW',
    }), 'wrong-family'],
    [Buffer.from('{"json":true}'), 'bad-marker'],
    [msg.subarray(0, msg.length - 5), 'malformed-body'],
  ];
  for (const [buf, failure] of cases) {
    assert.throws(() => codec.decode(buf), (err: unknown) => err instanceof DecodeError && err.failure === failure && err.permanent, failure);
  }
});

test('a broken schema file is reported with its path', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-schemas-'));
  mkdirSync(join(dir, 'x'));
  writeFileSync(join(dir, 'x', 'v1.avsc'), '{"type":"record","name":"X","fields":[{"name":"a","type":"nope"}]}');
  assert.throws(() => SchemaRegistry.load(dir), /x\/v1\.avsc is not a valid Avro schema/);
});

test('types.generated.ts is up to date with schemas/ (npm run schemas:gen)', () => {
  assert.equal(readFileSync(GENERATED_FILE, 'utf8'), generateTypes(SchemaRegistry.load()));
});
