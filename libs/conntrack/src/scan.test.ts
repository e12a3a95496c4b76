import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EventType, LineKind, LineSplitter, Scan, scanLine } from './scan.ts';

// Real output of conntrack-tools 1.4.7 (Debian 12) in network namespaces with nftables rules
// (DNAT 10.96.0.10:80 -> 10.99.0.2:8080), nf_conntrack_acct=1 and nf_conntrack_timestamp=1.
export const TCP = 'ipv4     2 tcp      6 431998 ESTABLISHED src=10.99.0.1 dst=10.96.0.10 sport=50384 dport=80 packets=7 bytes=3372 src=10.99.0.2 dst=10.99.0.1 sport=8080 dport=50384 packets=6 bytes=50320 [ASSURED] mark=0 delta-time=2 use=1 id=3137469039';
const UDP = 'ipv4     2 udp      17 28 src=10.99.0.1 dst=10.99.0.2 sport=41125 dport=9125 packets=1 bytes=228 [UNREPLIED] src=10.99.0.2 dst=10.99.0.1 sport=9125 dport=41125 packets=0 bytes=0 mark=0 delta-time=1 use=1 id=607985803';
const ICMP = 'ipv4     2 icmp     1 29 src=10.99.0.1 dst=10.99.0.2 type=8 code=0 id=0 packets=1 bytes=28 src=10.99.0.2 dst=10.99.0.1 type=0 code=0 id=0 packets=1 bytes=28 mark=0 delta-time=0 use=1 id=1474237530';
const NEW = '[1796001005.089814]\t    [NEW] ipv4     2 tcp      6 120 SYN_SENT src=10.99.0.1 dst=10.96.0.11 sport=56342 dport=80 [UNREPLIED] src=10.99.0.2 dst=10.99.0.1 sport=8081 dport=56342 id=2482172571';
const DESTROY = '[1796001018.026768]\t[DESTROY] ipv4     2 tcp      6 TIME_WAIT src=10.99.0.1 dst=10.96.0.11 sport=56342 dport=80 packets=8 bytes=1424 src=10.99.0.2 dst=10.99.0.1 sport=8081 dport=56342 packets=7 bytes=20372 [ASSURED] delta-time=4 id=2482172571';
const V6 = 'ipv6     10 udp      17 29 src=::1 dst=::1 sport=44716 dport=9998 packets=1 bytes=98 [UNREPLIED] src=::1 dst=::1 sport=9998 dport=44716 packets=0 bytes=0 mark=0 use=1 id=3666699634';
const V6_DESTROY = '[1796221229.823372]\t[DESTROY] ipv6     10 udp      17 29 src=::1 dst=::1 sport=44716 dport=9998 packets=1 bytes=98 [UNREPLIED] src=::1 dst=::1 sport=9998 dport=44716 packets=0 bytes=0 id=3666699634 [USERSPACE] portid=3739524383';

function scan(line: string): { kind: LineKind; s: Scan } {
  const s = new Scan();
  const b = Buffer.from(line, 'latin1');
  return { kind: scanLine(b, 0, b.length, s), s };
}

describe('scanLine', () => {
  it('a DNAT-ed TCP entry: both tuples, counters, id, delta-time', () => {
    const { kind, s } = scan(TCP);
    assert.equal(kind, LineKind.Entry);
    assert.deepEqual(
      [s.family, s.protocol, s.str(s.oSrc0, s.oSrc1), s.str(s.oDst0, s.oDst1), s.oSport, s.oDport, s.str(s.rSrc0, s.rSrc1), s.str(s.rDst0, s.rDst1), s.rSport, s.rDport],
      [4, 6, '10.99.0.1', '10.96.0.10', 50384, 80, '10.99.0.2', '10.99.0.1', 8080, 50384],
    );
    assert.deepEqual([s.origPackets, s.origBytes, s.replyPackets, s.replyBytes, s.id, s.deltaTime, s.event, s.time], [7, 3372, 6, 50320, 3137469039, 2, EventType.None, -1]);
  });
  it('UDP with [UNREPLIED] between the tuples; ICMP whose tuples carry their own id=', () => {
    const u = scan(UDP).s;
    assert.deepEqual([u.id, u.protocol, u.origBytes, u.replyBytes, u.rSport], [607985803, 17, 228, 0, 9125]);
    const i = scan(ICMP).s;
    assert.deepEqual([i.id, i.protocol, i.oSport, i.oDport, i.origBytes, i.replyBytes], [1474237530, 1, 0, 0, 28, 28]);
  });
  it('event lines: time to the ms, type, final counters; IPv6', () => {
    const n = scan(NEW).s;
    assert.deepEqual([n.event, n.time, n.origBytes, n.id], [EventType.New, 1796001005089, 0, 2482172571]);
    const d = scan(DESTROY).s;
    assert.deepEqual([d.event, d.time, d.origBytes, d.origPackets, d.replyBytes, d.replyPackets, d.id, d.str(d.rSrc0, d.rSrc1)], [EventType.Destroy, 1796001018026, 1424, 8, 20372, 7, 2482172571, '10.99.0.2']);
    const v = scan(V6).s;
    assert.deepEqual([v.family, v.str(v.oSrc0, v.oSrc1), v.origBytes, v.id], [6, '::1', 98, 3666699634]);
    const vd = scan(V6_DESTROY).s;
    assert.deepEqual([vd.family, vd.event, vd.id, vd.hash], [6, EventType.Destroy, 3666699634, v.hash], 'the DESTROY of an entry has the hash of its dump line');
  });
  it('the identity hash ignores counters, state, flags, timeout and delta-time, and sees the tuple, protocol and zone', () => {
    const a = scan(TCP).s.hash;
    assert.equal(scan(TCP.replace('packets=7 bytes=3372', 'packets=9 bytes=9000').replace('431998 ESTABLISHED', '120 TIME_WAIT').replace('delta-time=2', 'delta-time=3')).s.hash, a);
    assert.notEqual(scan(TCP.replace('sport=50384 dport=80', 'sport=50385 dport=80')).s.hash, a);
    assert.notEqual(scan(TCP.replace('mark=0', 'mark=0 zone=3')).s.hash, a);
    assert.notEqual(scan(TCP.replace('tcp      6', 'sctp     132')).s.hash, a);
    assert.equal(scan(TCP.replace('mark=0', 'mark=0 zone=3')).s.zone, 3);
  });
  it('other lines are skipped; malformed and truncated entries are told apart', () => {
    for (const l of ['', '   ', 'conntrack v1.4.7 (conntrack-tools): 2 flow entries have been shown.']) assert.equal(scan(l).kind, LineKind.Other, l);
    const bad = [
      'ipv4     2 tcp      6 431998 ESTABLISHED src=10.99.0.1',
      TCP.slice(0, 120),
      TCP.replace('sport=50384', 'sport=5x384'),
      TCP.replace('sport=50384', 'sport=99999'),
      TCP.replace(' id=3137469039', ''),
      TCP.replace('bytes=3372', 'bytes=-1'),
      'ipv4     2 tcp      x 431998',
      '[1796001018.026768]\t[DESTROY] garbage',
    ];
    for (const l of bad) assert.equal(scan(l).kind, LineKind.Malformed, l);
  });
});

describe('LineSplitter', () => {
  it('gives every line whole however the chunks cut them, and reports a truncated tail', () => {
    const text = `${TCP}\n${UDP}\n${ICMP}\n${V6}\n`;
    const all = Buffer.from(text + TCP.slice(0, 50));
    for (const size of [1, 7, 64, 200, all.length]) {
      const lines: string[] = [];
      const sp = new LineSplitter((b, a, e) => lines.push(b.toString('latin1', a, e)));
      for (let i = 0; i < all.length; i += size) sp.push(all.subarray(i, i + size));
      assert.deepEqual(lines, [TCP, UDP, ICMP, V6], `chunks of ${size}`);
      assert.equal(sp.end(), 50);
    }
  });
});
