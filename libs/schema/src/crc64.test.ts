import { test } from 'node:test';
import assert from 'node:assert/strict';
import { crc64Avro, fingerprintBytes } from './crc64.ts';

// Vectors from the Avro project's shared test data (share/test/data/schema-tests.txt):
// the CRC-64-AVRO of a schema's parsing canonical form, as a signed Java long.
const vectors: Array<[string, bigint]> = [
  ['"null"', 7195948357588979594n],
  ['"boolean"', -6970731678124411036n],
  ['"int"', 8247732601305521295n],
  ['"long"', -3434872931120570953n],
  ['"string"', -8142146995180207161n],
];

test('CRC-64-AVRO matches the Avro specification test vectors', () => {
  for (const [schema, signed] of vectors) {
    assert.equal(BigInt.asIntN(64, crc64Avro(schema)), signed, schema);
  }
});

test('fingerprint bytes are little-endian', () => {
  const b = fingerprintBytes(0x0102030405060708n);
  assert.deepEqual([...b], [8, 7, 6, 5, 4, 3, 2, 1]);
});
