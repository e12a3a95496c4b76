import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseConntrackLine } from './conntrack-text.ts';

// Real output of conntrack-tools 1.4.7 (Debian 12) in a network namespace with an nftables DNAT
// rule (10.96.0.10:80 -> 10.99.0.2:8080), nf_conntrack_acct=1 and nf_conntrack_timestamp=1.
const TCP = 'ipv4     2 tcp      6 431998 ESTABLISHED src=10.99.0.1 dst=10.96.0.10 sport=50384 dport=80 packets=7 bytes=3372 src=10.99.0.2 dst=10.99.0.1 sport=8080 dport=50384 packets=6 bytes=50320 [ASSURED] mark=0 delta-time=2 use=1 id=3137469039';
const UDP = 'ipv4     2 udp      17 28 src=10.99.0.1 dst=10.99.0.2 sport=41125 dport=9125 packets=1 bytes=228 [UNREPLIED] src=10.99.0.2 dst=10.99.0.1 sport=9125 dport=41125 packets=0 bytes=0 mark=0 delta-time=1 use=1 id=607985803';
const ICMP = 'ipv4     2 icmp     1 29 src=10.99.0.1 dst=10.99.0.2 type=8 code=0 id=0 packets=1 bytes=28 src=10.99.0.2 dst=10.99.0.1 type=0 code=0 id=0 packets=1 bytes=28 mark=0 delta-time=0 use=1 id=1474237530';
const NEW = '[1796001005.089814]\t    [NEW] ipv4     2 tcp      6 120 SYN_SENT src=10.99.0.1 dst=10.96.0.11 sport=56342 dport=80 [UNREPLIED] src=10.99.0.2 dst=10.99.0.1 sport=8081 dport=56342 id=2482172571';
const DESTROY = '[1796001018.026768]\t[DESTROY] ipv4     2 tcp      6 TIME_WAIT src=10.99.0.1 dst=10.96.0.11 sport=56342 dport=80 packets=8 bytes=1424 src=10.99.0.2 dst=10.99.0.1 sport=8081 dport=56342 packets=7 bytes=20372 [ASSURED] delta-time=4 id=2482172571';
// Not captured (the namespace tracked no IPv6 flow): same layout with the ipv6 family, written by hand.
const V6 = 'ipv6     10 tcp      6 431999 ESTABLISHED src=fd00:10:244:1::5 dst=2001:218::8 sport=40000 dport=443 packets=3 bytes=300 src=2001:218::8 dst=fd00:10:0:1::10 sport=443 dport=40000 packets=2 bytes=4000 [ASSURED] mark=0 use=1 id=42';

describe('parseConntrackLine', () => {
  const NOW = 1_800_000_000_000;
  it('parses a DNAT-ed TCP entry: both tuples, counters, id, start from delta-time', () => {
    assert.deepEqual(parseConntrackLine(TCP, NOW), {
      entry: {
        id: 3137469039,
        protocol: 6,
        family: 'IPV4',
        original: { src: '10.99.0.1', dst: '10.96.0.10', sport: 50384, dport: 80 },
        reply: { src: '10.99.0.2', dst: '10.99.0.1', sport: 8080, dport: 50384 },
        origBytes: 3372,
        origPackets: 7,
        replyBytes: 50320,
        replyPackets: 6,
        start: NOW - 2000,
      },
    });
  });
  it('parses UDP with [UNREPLIED] between the tuples, and ICMP whose tuples carry their own id=', () => {
    const u = parseConntrackLine(UDP, NOW)!.entry;
    assert.deepEqual([u.id, u.protocol, u.origBytes, u.replyBytes, u.reply.sport], [607985803, 17, 228, 0, 9125]);
    const i = parseConntrackLine(ICMP, NOW)!.entry;
    assert.deepEqual([i.id, i.protocol, i.original.sport, i.original.dport, i.origBytes, i.replyBytes], [1474237530, 1, 0, 0, 28, 28]);
  });
  it('parses event lines: time, type, final counters on DESTROY', () => {
    const n = parseConntrackLine(NEW, NOW)!;
    assert.equal(n.event, 'NEW');
    assert.equal(n.time, 1796001005089);
    assert.deepEqual([n.entry.origBytes, n.entry.replyBytes, n.entry.id], [0, 0, 2482172571]);
    const d = parseConntrackLine(DESTROY, NOW)!;
    assert.equal(d.event, 'DESTROY');
    assert.equal(d.time, 1796001018026);
    assert.deepEqual([d.entry.origBytes, d.entry.origPackets, d.entry.replyBytes, d.entry.replyPackets, d.entry.id], [1424, 8, 20372, 7, 2482172571]);
    assert.equal(d.entry.reply.src, '10.99.0.2');
  });
  it('parses IPv6 and skips what is not an entry', () => {
    const v = parseConntrackLine(V6, NOW)!.entry;
    assert.deepEqual([v.family, v.original.src, v.reply.dst, v.start], ['IPV6', 'fd00:10:244:1::5', 'fd00:10:0:1::10', 0]);
    assert.equal(parseConntrackLine('conntrack v1.4.7 (conntrack-tools): 2 flow entries have been shown.'), undefined);
    assert.equal(parseConntrackLine(''), undefined);
    assert.equal(parseConntrackLine('ipv4     2 tcp      6 431998 ESTABLISHED src=10.99.0.1'), undefined);
  });
});
