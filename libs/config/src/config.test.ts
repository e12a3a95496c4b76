import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, loadSettings, redact, int, bool, list, oneOf, str } from './config.ts';

const spec = {
  n: int('T_N', 'n', 5, 1, 10),
  b: bool('T_B', 'b', false),
  l: list('T_L', 'l'),
  o: oneOf('T_O', 'o', 'a', ['a', 'b'] as const),
  p: str('T_P', 'p', '', { secret: true }),
};

test('defaults apply to unset and blank values', () => {
  assert.deepEqual(loadSettings(spec, { T_N: ' ' }), { n: 5, b: false, l: [], o: 'a', p: '' });
});

test('values are parsed', () => {
  assert.deepEqual(loadSettings(spec, { T_N: '7', T_B: 'yes', T_L: 'x:1, y:2,', T_O: 'b', T_P: 's3cret' }), { n: 7, b: true, l: ['x:1', 'y:2'], o: 'b', p: 's3cret' });
});

test('a bad value is a ConfigError naming the setting', () => {
  for (const [env, setting, re] of [
    [{ T_N: 'ten' }, 'T_N', /not a whole number/],
    [{ T_N: '11' }, 'T_N', /out of range/],
    [{ T_B: 'maybe' }, 'T_B', /not a boolean/],
    [{ T_O: 'c' }, 'T_O', /not one of a, b/],
  ] as const) {
    assert.throws(() => loadSettings(spec, env), (e: unknown) => e instanceof ConfigError && e.setting === setting && re.test(e.message) && e.message.startsWith(setting));
  }
});

test('redact hides secrets', () => {
  assert.equal(redact(spec, loadSettings(spec, { T_P: 'hunter2' })).p, '***');
});
