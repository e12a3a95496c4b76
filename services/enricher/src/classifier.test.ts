import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '@tollgate/config';
import { Classifier, parseDirectCidrs, parsePrivateCidrs } from './classifier.ts';

test('static facts per address: direct, private (built-in and configured), cached and bounded', () => {
  const c = new Classifier({ direct: parseDirectCidrs(['192.168.50.0/24=on-prem/dc1', '172.20.0.0/16 = eu-west-1']), private: parsePrivateCidrs(['203.0.113.0/24']), cacheSize: 2 });
  const d = c.info('192.168.50.7');
  assert.deepEqual([d.direct?.region, d.direct?.zone, d.private], ['on-prem', 'dc1', true]);
  assert.deepEqual([c.info('172.20.1.1').direct?.region, c.info('172.20.1.1').direct?.zone], ['eu-west-1', '']);
  for (const p of ['10.1.2.3', '172.31.255.1', '192.168.1.1', '100.100.1.1', '169.254.169.254', 'fd00::1', 'fe80::1', '203.0.113.9']) assert.equal(c.info(p).private, true, p);
  for (const p of ['172.32.0.1', '100.128.0.1', '2001:db8::1', '8.8.8.8']) assert.equal(c.info(p).private, false, p);
  assert.equal(c.info('not-an-ip').valid, false);
  c.info('1.1.1.1');
  const before = c.misses;
  c.info('1.1.1.1');
  assert.equal(c.misses, before, 'second lookup is a cache hit');
});

test('bad CIDR settings are ConfigErrors naming the setting', () => {
  const named = (fn: () => unknown, setting: string) => assert.throws(fn, (e: unknown) => e instanceof ConfigError && e.setting === setting);
  named(() => parseDirectCidrs(['10.0.0.0/8']), 'TOLLGATE_DIRECT_CIDRS');
  named(() => parseDirectCidrs(['10.0.0.0/33=r/z']), 'TOLLGATE_DIRECT_CIDRS');
  named(() => parseDirectCidrs(['10.0.0.0/8=']), 'TOLLGATE_DIRECT_CIDRS');
  named(() => parseDirectCidrs(['10.0.0.1=r/z']), 'TOLLGATE_DIRECT_CIDRS');
  named(() => parsePrivateCidrs(['10.0.0/8']), 'TOLLGATE_PRIVATE_CIDRS');
});
