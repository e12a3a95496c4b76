import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseArgs, parseDuration, UsageError } from './args.ts';
import { renderTable, bytes } from './table.ts';

const specs = [
  { name: 'format', type: 'string' as const, help: 'f', default: 'table' },
  { name: 'top', type: 'string' as const, help: 't' },
  { name: 'help', type: 'boolean' as const, help: 'h' },
];

test('options, defaults and positionals', () => {
  assert.deepEqual(parseArgs(['--top', '5', 'x', '--format=json'], specs), { options: { format: 'json', top: '5' }, positionals: ['x'] });
  assert.deepEqual(parseArgs(['-h'], specs).options.help, true);
});

test('unknown options and missing values are usage errors', () => {
  assert.throws(() => parseArgs(['--nope'], specs), (e: unknown) => e instanceof UsageError && /unknown option --nope/.test(e.message));
  assert.throws(() => parseArgs(['--top'], specs), /--top needs a value/);
  assert.throws(() => parseArgs(['--help=1'], specs), /takes no value/);
});

test('durations', () => {
  assert.equal(parseDuration('7d', 'since'), 7 * 86_400_000);
  assert.equal(parseDuration('all', 'since'), undefined);
  assert.throws(() => parseDuration('7 days', 'since'), /--since/);
});

test('tables align columns', () => {
  const t = renderTable([{ a: 'x', b: 10 }, { a: 'long', b: 2 }], [{ title: 'A', value: (r) => r.a }, { title: 'B', value: (r) => String(r.b), align: 'right' }]);
  assert.equal(t, 'A      B\n----  --\nx     10\nlong   2');
  assert.equal(bytes(1536), '1.5 KiB');
});
