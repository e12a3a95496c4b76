import { test } from 'node:test';
import assert from 'node:assert/strict';
import { canonicalIp, formatIPv6, parseCidr, parseIPv4, parseIp, parseIPv6, PrefixTrie } from './ip.ts';

test('addresses parse and print canonically (RFC 5952 for IPv6)', () => {
  assert.equal(parseIPv4('10.244.1.5'), 0x0af40105);
  assert.equal(parseIPv4('255.255.255.255'), 0xffffffff);
  for (const bad of ['10.244.1', '10.244.1.256', '1.2.3.4.5', 'a.b.c.d', '', '1..2.3']) assert.equal(parseIPv4(bad), -1, bad);
  assert.equal(canonicalIp('2001:0DB8:0:0:0:0:0:1'), '2001:db8::1');
  assert.equal(canonicalIp('2001:db8:0:1:0:0:0:1'), '2001:db8:0:1::1');
  assert.equal(canonicalIp('2001:db8:0:0:1:0:0:1'), '2001:db8::1:0:0:1', 'leftmost of equal runs');
  assert.equal(canonicalIp('::'), '::');
  assert.equal(canonicalIp('::1'), '::1');
  assert.equal(canonicalIp('fe80::1%eth0'), 'fe80::1');
  assert.equal(canonicalIp('::ffff:10.1.2.3'), '10.1.2.3', 'IPv4-mapped is IPv4');
  assert.equal(formatIPv6(parseIPv6('1:2:3:4:5:6:7:8')!), '1:2:3:4:5:6:7:8');
  assert.equal(formatIPv6(parseIPv6('1:0:3:4:5:6:7:8')!), '1:0:3:4:5:6:7:8', 'a single zero group is not compressed');
  for (const bad of ['1::2::3', '1:2:3:4:5:6:7:8:9', 'g::1', '12345::', '1:2:3:4:5:6:7']) assert.equal(parseIPv6(bad), undefined, bad);
  assert.equal(parseIp('x'), undefined);
});

test('prefix trie: longest match wins, IPv4 and IPv6 kept apart, host bits ignored', () => {
  const t = new PrefixTrie<string>();
  for (const [c, v] of [['10.0.0.0/8', 'ten'], ['10.1.0.0/16', 'ten-one'], ['10.1.2.3/32', 'host'], ['0.0.0.0/0', 'any4'], ['2600:1f00::/24', 'aws6'], ['2600:1f00:1::/48', 'aws6-48'], ['192.168.1.77/24', 'masked']] as const) {
    t.insert(parseCidr(c)!, v);
  }
  const get = (ip: string) => t.lookup(parseIp(ip)!);
  assert.equal(get('10.2.3.4'), 'ten');
  assert.equal(get('10.1.9.9'), 'ten-one');
  assert.equal(get('10.1.2.3'), 'host');
  assert.equal(get('8.8.8.8'), 'any4');
  assert.equal(get('192.168.1.1'), 'masked');
  assert.equal(get('2600:1f00:1:2::1'), 'aws6-48');
  assert.equal(get('2600:1f00:2::1'), 'aws6');
  assert.equal(get('2600:1e00::1'), undefined, 'no IPv6 default route: 0.0.0.0/0 is IPv4 only');
  assert.equal(t.size, 7);
  const m = new PrefixTrie<string>();
  m.insert(parseCidr('1.0.0.0/8')!, 'a');
  m.insert(parseCidr('1.0.0.0/8')!, 'b', (_old, neu) => neu);
  assert.equal(m.lookup4(parseIPv4('1.2.3.4')), 'b', 'merge decides for the same prefix');
  assert.equal(parseCidr('10.0.0.0/33'), undefined);
  assert.equal(parseCidr('::ffff:10.0.0.0/104')?.bits, 8, 'IPv4-mapped prefix');
});
