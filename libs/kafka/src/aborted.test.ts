import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dropAbortedRecords, type BatchLike } from './aborted.ts';

const TX = 1 << 4;
const CONTROL = 1 << 5;
const data = (offset: number, producer: number, transactional = true, n = 1): BatchLike => ({
  firstOffset: BigInt(offset),
  attributes: transactional ? TX : 0,
  producerId: BigInt(producer),
  records: Array.from({ length: n }, () => ({ key: Buffer.from(`r${offset}`) })),
});
/** A control batch: key (version 0, type 0 = ABORT, 1 = COMMIT). */
const marker = (offset: number, producer: number, type: 0 | 1): BatchLike => {
  const key = Buffer.alloc(4);
  key.writeInt16BE(type, 2);
  return { firstOffset: BigInt(offset), attributes: TX | CONTROL, producerId: BigInt(producer), records: [{ key }] };
};
const kept = (batches: BatchLike[]) => batches.filter((b) => b.records.length > 0 && !(b.attributes & CONTROL)).map((b) => Number(b.firstOffset));

test('aborted transactions are dropped whether their marker is in the response or not; committed and plain batches stay', () => {
  // Producer 7: a committed transaction (0-1, commit at 2), an aborted one (3-4, abort at 5), another
  // aborted one (6-7) whose marker is past this response. Producer 9 commits 8 meanwhile; a plain batch at 9.
  const records = [data(0, 7), data(1, 7), marker(2, 7, 1), data(3, 7), data(4, 7, true, 3), marker(5, 7, 0), data(6, 7), data(7, 7), data(8, 9), data(9, -1, false)];
  const response = { responses: [{ partitions: [{ abortedTransactions: [{ producerId: 7n, firstOffset: 6n }, { producerId: 7n, firstOffset: 3n }], records }] }] };
  assert.equal(dropAbortedRecords(response), 1 + 3 + 1 + 1);
  assert.deepEqual(kept(records), [0, 1, 8, 9]);
  assert.equal(records.length, 10, 'batches are emptied, not removed (the stream tracks offsets from them)');
});

test('a response with no aborted transaction is left alone', () => {
  const records = [data(0, 7), marker(1, 7, 0)];
  assert.equal(dropAbortedRecords({ responses: [{ partitions: [{ abortedTransactions: null, records }] }] }), 0);
  assert.deepEqual(kept(records), [0]);
});
