import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import type { ConntrackEntry } from '@tollgate/conntrack';
import type { Pod, Workload } from '@tollgate/kube';
import { createScenario, type Scenario } from './scenario.ts';
import { CLIENT_COUNTRIES, EXT, MINING_PORT, type SimConnection } from './traffic.ts';

const START = Date.UTC(2025, 0, 6, 0);
const H = 3_600_000;
const small = createScenario({ seed: 7, days: 5, scale: 1, start: START });
const def = createScenario({ seed: 1, days: 8, scale: 1, start: START });

function digest(s: Scenario): string {
  const h = createHash('sha256');
  h.update(JSON.stringify(s.inventory));
  for (const n of s.nodes) for (const t of s.ticks(n)) h.update(JSON.stringify(t));
  return h.digest('hex');
}
const ident = (e: ConntrackEntry) => `${e.reply.src}:${e.reply.sport}<${e.original.src}:${e.original.sport}@${e.start}`;

describe('scenario', () => {
  it('is deterministic: same seed, same inventory and ticks; another seed differs', () => {
    const a = digest(createScenario({ seed: 7, days: 2, scale: 2, start: START }));
    assert.equal(digest(createScenario({ seed: 7, days: 2, scale: 2, start: START })), a);
    assert.notEqual(digest(createScenario({ seed: 8, days: 2, scale: 2, start: START })), a);
  });

  it('rejects bad options', () => {
    assert.throws(() => createScenario({ seed: 1, days: 1, scale: 1, start: START + 1 }), /hour-aligned/);
    assert.throws(() => createScenario({ seed: 1, days: 0, scale: 1, start: START }), /days/);
    assert.throws(() => small.ticks('nope'), /no node/);
  });

  it('has 4 nodes in 3 zones of us-east-1, with the Kubernetes API shape', () => {
    const nodes = small.inventory.filter((e) => e.object.kind === 'Node').map((e) => e.object as import('@tollgate/kube').Node);
    assert.equal(nodes.length, 4);
    assert.deepEqual(new Set(nodes.map((n) => n.metadata.labels!['topology.kubernetes.io/zone'])), new Set(['us-east-1a', 'us-east-1b', 'us-east-1c']));
    for (const n of nodes) {
      assert.equal(n.metadata.labels!['topology.kubernetes.io/region'], 'us-east-1');
      assert.match(n.spec.providerID!, /^aws:\/\/\/us-east-1[abc]\/i-0[0-9a-f]{16}$/);
      assert.match(n.status.addresses!.find((a) => a.type === 'InternalIP')!.address, /^10\.0\.\d+\.\d+$/);
    }
    const times = small.inventory.map((e) => e.time);
    assert.deepEqual(times, [...times].sort((a, b) => a - b), 'sorted by time');
  });

  it('every pod resolves through its owner references to its top owner', () => {
    const byUid = new Map<string, Workload>();
    for (const e of small.inventory) if (e.object.kind !== 'Pod' && e.object.kind !== 'Node' && e.object.kind !== 'Service') byUid.set(e.object.metadata.uid, e.object as Workload);
    const tops = new Set<string>();
    for (const e of small.inventory) {
      if (e.object.kind !== 'Pod' || e.type !== 'ADDED') continue;
      const pod = e.object as Pod;
      let ref = pod.metadata.ownerReferences![0]!;
      for (;;) {
        const w = byUid.get(ref.uid)!;
        assert.equal(w.metadata.name, ref.name);
        assert.equal(w.kind, ref.kind);
        const up = w.metadata.ownerReferences?.[0];
        if (!up) break;
        ref = up;
      }
      tops.add(`${pod.metadata.namespace}/${ref.kind}/${ref.name}`);
      if (pod.spec.hostNetwork) assert.equal(pod.status.podIP, pod.status.hostIP);
      else assert.match(pod.status.podIP!, /^10\.244\.\d+\.\d+$/);
    }
    assert.deepEqual([...tops].sort(), [
      'batch/CronJob/report-nightly',
      'data/StatefulSet/postgres',
      'monitoring/DaemonSet/node-exporter',
      'monitoring/Deployment/prometheus',
      'shop/Deployment/checkout',
      'shop/Deployment/frontend',
      'shop/Deployment/inventory',
      'shop/Deployment/recommender',
      'web/Deployment/api',
    ]);
  });

  it('reuses a pod IP for a pod of another workload, and both have traffic while they hold it', () => {
    const byIp = new Map<string, typeof small.pods>();
    for (const p of small.pods) if (!p.hostNetwork) byIp.set(p.ip, [...(byIp.get(p.ip) ?? []), p]);
    const reused = [...byIp.values()].filter((ps) => new Set(ps.map((p) => p.workload)).size > 1);
    assert.ok(reused.length >= 1);
    const conns = [...small.connections()];
    let checked = 0;
    for (const ps of reused) {
      ps.sort((a, b) => a.created - b.created);
      for (let i = 1; i < ps.length; i++) assert.ok(ps[i]!.created >= ps[i - 1]!.deleted, 'never two pods with one IP at once');
      const inRun = ps.filter((p) => p.deleted > small.start && p.created < small.end);
      if (new Set(inRun.map((p) => p.workload)).size < 2) continue;
      for (const p of inRun) {
        const mine = conns.filter((c) => c.initIp === p.ip && c.begin > p.created && c.begin < p.deleted && c.begin > small.start);
        assert.ok(mine.length > 0, `traffic of ${p.name}`);
        assert.ok(mine.every((c) => c.init.t === 'pod' && c.init.pod === p));
      }
      checked++;
    }
    assert.ok(checked >= 1, 'an IP held by two workloads within the run');
  });

  it('shows a cross-node connection on both nodes with the same counters (DNAT only on the initiator node)', () => {
    const seen = new Map<string, { node: string; e: ConntrackEntry }>();
    let pairs = 0;
    let dnat = 0;
    for (const node of small.nodes) {
      for (const t of small.ticks(node)) {
        for (const e of [...t.dump, ...t.destroyed.map((d) => d.entry)]) {
          if (!e.reply.src.startsWith('10.244.') || !(e.original.src.startsWith('10.244.') || e.original.src.startsWith('10.0.'))) continue;
          const k = `${t.time}|${ident(e)}|${t.dump.includes(e)}`;
          const other = seen.get(k);
          if (!other) {
            seen.set(k, { node, e });
            continue;
          }
          assert.notEqual(other.node, node);
          assert.deepEqual([e.origBytes, e.origPackets, e.replyBytes, e.replyPackets], [other.e.origBytes, other.e.origPackets, other.e.replyBytes, other.e.replyPackets]);
          const dsts = [e.original.dst, other.e.original.dst];
          if (dsts.some((d) => d.startsWith('10.96.'))) {
            dnat++;
            assert.ok(dsts.includes(e.reply.src), 'the responder node sees the pod IP as the original destination');
          }
          pairs++;
        }
      }
    }
    assert.ok(pairs > 1000, `${pairs} cross-node pairs`);
    assert.ok(dnat > 100, `${dnat} ClusterIP pairs`);
  });

  it("ticks add up to the truth's per-node totals (baseline excluded, final counters from DESTROY or the last dump)", () => {
    const totals = small.truthByNode();
    for (const node of small.nodes) {
      const first = new Map<string, ConntrackEntry>();
      const last = new Map<string, ConntrackEntry>();
      let h = 0;
      let onlyDestroyed = 0;
      let preexisting = 0;
      const inDump = new Set<string>();
      for (const t of small.ticks(node)) {
        const key = (e: ConntrackEntry) => `${e.id}|${e.original.src}|${e.original.sport}|${e.start}`;
        for (const d of t.destroyed) {
          last.set(key(d.entry), d.entry);
          if (!inDump.has(key(d.entry))) onlyDestroyed++;
        }
        for (const e of t.dump) {
          if (h === 0) first.set(key(e), e);
          last.set(key(e), e);
          inDump.add(key(e));
        }
        if (h === 0) preexisting = t.dump.reduce((a, e) => a + e.origBytes + e.replyBytes, 0);
        assert.equal(t.time, small.start + h++ * H);
      }
      assert.equal(h, 5 * 24 + 1);
      let ob = 0;
      let rb = 0;
      for (const [k, e] of last) {
        ob += e.origBytes - (first.get(k)?.origBytes ?? 0);
        rb += e.replyBytes - (first.get(k)?.replyBytes ?? 0);
      }
      const tot = totals.get(node)!;
      assert.equal(ob, tot.origBytes, node);
      assert.equal(rb, tot.replyBytes, node);
      assert.equal(last.size, tot.entries, node);
      assert.ok(onlyDestroyed > 100, `${node}: short connections seen only as DESTROY`);
      assert.ok(preexisting > 10e6, `${node}: bytes before the agent started (not billed): ${preexisting}`);
    }
  });

  it('plants one id reuse (counters restart) and one lost DESTROY, on one node, in one tick', () => {
    const node = small.nodes[3]!;
    let prev = new Map<number, ConntrackEntry>();
    const events: string[] = [];
    for (const t of small.ticks(node)) {
      if (t.overruns) events.push(`overruns ${t.overruns} at h${(t.time - small.start) / H}`);
      const cur = new Map(t.dump.map((e) => [e.id, e]));
      for (const [id, e] of cur) {
        const p = prev.get(id);
        if (p && e.origBytes < p.origBytes) {
          assert.deepEqual(e.original, p.original);
          events.push(`restart ${e.protocol} at h${(t.time - small.start) / H}`);
        }
      }
      prev = cur;
    }
    const h = Math.min(58, 5 * 24 - 3) + 1;
    assert.deepEqual(events, [`overruns 2 at h${h}`, `restart 17 at h${h}`]);
    const ids = new Set<number>();
    for (const n of small.nodes.slice(0, 3)) for (const t of small.ticks(n)) assert.equal(t.overruns, undefined, n);
    for (const t of small.ticks(small.nodes[0]!)) for (const e of t.dump) ids.add(e.id);
    assert.ok(ids.size > 10);
  });

  it('only the planted pod talks to the new country or the mining port, from 12 h before the end', () => {
    const conns = [...def.connections()].filter((c) => c.end > def.start && c.begin < def.end);
    const ext = (c: SimConnection) => (c.resp.t === 'ext' ? c.resp.ext : c.init.t === 'ext' ? c.init.ext : undefined);
    const suspicious = conns.filter((c) => ext(c)?.country === 'BT' || (c.resp.t === 'ext' && c.dport === MINING_PORT) || c.sport === MINING_PORT);
    assert.ok(suspicious.length >= 4);
    for (const c of suspicious) {
      assert.ok(c.init.t === 'pod' && c.init.pod.workload === 'recommender' && c.respIp === EXT.miner.ip && c.dport === MINING_PORT);
      assert.ok(c.begin >= def.end - 12 * H);
    }
    // tens of MB per hour
    const t = def.truth().find((r) => r.workload === 'recommender' && r.class === 'internet')!;
    assert.ok(t.egress_bytes / 12 > 20e6 && t.egress_bytes / 12 < 100e6, `${t.egress_bytes}`);
    assert.deepEqual(
      def.expectedAnomalies.map((a) => [a.namespace, a.workload_kind, a.workload, a.rule, a.country, a.port]),
      [
        ['shop', 'Deployment', 'recommender', 'NEW_COUNTRY', 'BT', 3333],
        ['shop', 'Deployment', 'recommender', 'NEW_ASN', 'BT', 3333],
        ['shop', 'Deployment', 'recommender', 'MINING_PORT', 'BT', 3333],
      ],
    );
    // in the ticks: the only entries towards the pool are on the recommender's node, from its pod
    const rec = def.pods.find((p) => p.workload === 'recommender')!;
    for (const node of def.nodes) {
      for (const tk of def.ticks(node)) {
        for (const e of tk.dump) {
          if (e.reply.src !== EXT.miner.ip) continue;
          assert.equal(node, rec.node.name);
          assert.equal(e.original.src, rec.ip);
          assert.equal(e.reply.dst, rec.node.ip, 'masqueraded');
        }
      }
    }
  });

  it('normal workloads reach each of their external countries at least every 4 hours (the report job daily)', () => {
    const seen = new Map<string, number[]>();
    for (const c of def.connections()) {
      if (c.begin < def.start || c.begin >= def.end) continue;
      const e = c.resp.t === 'ext' ? c.resp.ext : c.init.t === 'ext' ? c.init.ext : undefined;
      const local = c.init.t === 'pod' ? c.init.pod : c.resp.t === 'pod' ? c.resp.pod : undefined;
      if (!e?.country || !local || local.workload === 'recommender') continue;
      const k = `${local.workload}:${e.country}`;
      seen.set(k, [...(seen.get(k) ?? []), c.begin]);
    }
    assert.deepEqual([...seen.keys()].sort(), ['api:CN', 'api:GB', 'api:JP', 'api:SE', 'api:US', 'checkout:US', 'report-nightly:GB'].sort());
    assert.deepEqual(CLIENT_COUNTRIES, ['US', 'SE', 'GB']);
    for (const [k, times] of seen) {
      times.sort((a, b) => a - b);
      const gap = k.startsWith('report-nightly') ? 24 * H + 5 * 60_000 : 4 * H;
      assert.ok(times[0]! - def.start < Math.min(gap, 24 * H), `${k} first seen in the first day`);
      for (let i = 1; i < times.length; i++) assert.ok(times[i]! - times[i - 1]! <= gap, `${k} gap`);
      assert.ok(def.end - times.at(-1)! <= gap, `${k} until the end`);
    }
  });

  it('truth: in-cluster bytes are sent by one billed side and received by another', () => {
    for (const s of [small, def]) {
      const rows = s.truth();
      const inCluster = rows.filter((r) => r.class === 'same_zone' || r.class === 'cross_zone' || r.class === 'cross_region');
      const eg = inCluster.reduce((a, r) => a + r.egress_bytes, 0);
      const ig = inCluster.reduce((a, r) => a + r.ingress_bytes, 0);
      assert.equal(eg, ig);
      assert.ok(eg > 0);
      const classes = new Set(rows.map((r) => r.class));
      for (const c of ['same_zone', 'cross_zone', 'direct', 'cloud_service', 'private', 'internet']) assert.ok(classes.has(c as never), c);
      assert.ok(!classes.has('cross_region'));
      // node-exporter (hostNetwork, hostPort 9100) is billed, and the node itself for its kubelet traffic
      assert.ok(rows.some((r) => r.workload_kind === 'DaemonSet' && r.workload === 'node-exporter' && r.egress_bytes > 0));
      assert.deepEqual(
        rows.filter((r) => r.workload_kind === 'Node').map((r) => [r.namespace, r.workload, r.class]),
        s.nodes.map((n) => ['', n, 'private']).sort((a, b) => (a[1]! < b[1]! ? -1 : 1)),
      );
    }
  });

  it('truth classes of Amazon addresses follow the range fixture: named services cloud_service with their region, EC2 and AMAZON internet', () => {
    // Read here from the published format with a few lines of its own (not the enricher's parser).
    const env = def.enricherEnv;
    const ranges = JSON.parse(readFileSync(env.TOLLGATE_CLOUD_RANGES!.replace(/^aws:/, ''), 'utf8')) as { prefixes: Array<{ ip_prefix: string; service: string; region: string }> };
    const v4 = (ip: string) => ip.split('.').reduce((a, o) => a * 256 + Number(o), 0);
    const within = (ip: string, cidr: string) => {
      const [net, len] = cidr.split('/');
      const size = 2 ** (32 - Number(len));
      return Math.floor(v4(ip) / size) === Math.floor(v4(net!) / size);
    };
    /** The longest named-service prefix holding ip, or the EC2/AMAZON one ('internet'), or undefined. */
    const fixtureClass = (ip: string) => {
      const hits = ranges.prefixes.filter((p) => within(ip, p.ip_prefix)).sort((a, b) => Number(b.ip_prefix.split('/')[1]) - Number(a.ip_prefix.split('/')[1]));
      if (hits.length === 0) return undefined;
      const named = hits.find((p) => p.service !== 'AMAZON' && p.service !== 'EC2' && p.ip_prefix === hits[0]!.ip_prefix);
      return named ? `cloud_service ${named.service} ${named.region}` : 'internet';
    };
    const seen = new Map<string, string>();
    for (const c of def.connections()) {
      const e = c.resp.t === 'ext' ? c.resp.ext : c.init.t === 'ext' ? c.init.ext : undefined;
      if (e?.family !== 'IPV4' || e.cls === 'direct' || e.cls === 'private') continue;
      const f = fixtureClass(e.ip);
      if (f === undefined) continue;
      seen.set(e.ip, f);
      assert.equal(e.cls === 'cloud_service' ? `cloud_service S3 ${e.region}` : e.cls, f, e.label);
    }
    assert.deepEqual([...new Set(seen.values())].sort(), ['cloud_service S3 us-east-1', 'cloud_service S3 us-west-2', 'internet']);
    assert.equal(seen.get(EXT.ec2Partner.ip), 'internet');
    assert.ok(ranges.prefixes.some((p) => p.service === 'EC2' && within(EXT.ec2Partner.ip, p.ip_prefix)), 'the partner is in an EC2 range');

    // Their bytes: S3 in the cluster's region priced cloud_service, in us-west-2 cross-region (both
    // through the NAT gateway: class cloud_service); the EC2 partner is web/api internet.
    const checkout = def.truth().find((r) => r.workload === 'checkout' && r.class === 'cloud_service')!;
    assert.deepEqual(Object.keys(checkout.priced_as).sort(), ['cloud_service', 'cross_region']);
    assert.equal(checkout.priced_as.cloud_service!.egress_bytes + checkout.priced_as.cross_region!.egress_bytes, checkout.egress_bytes);
    assert.ok(checkout.priced_as.cross_region!.egress_bytes > 0 && checkout.priced_as.cloud_service!.egress_bytes > 0);
    const dr = def.truth().find((r) => r.workload === 'postgres' && r.class === 'direct')!;
    assert.deepEqual(Object.keys(dr.priced_as), ['cross_region'], 'the peered VPC is in us-west-2');
    const ec2Conns = [...def.connections()].filter((c) => c.respIp === EXT.ec2Partner.ip && c.begin >= def.start && c.begin < def.end);
    assert.ok(ec2Conns.length >= def.days * 24, `${ec2Conns.length} connections to the EC2 partner`);
    assert.ok(ec2Conns.every((c) => c.init.t === 'pod' && c.init.pod.workload === 'api'));
  });

  it('enricher settings point at files that exist', () => {
    const env = def.enricherEnv;
    assert.equal(env.TOLLGATE_CLUSTER, 'demo');
    assert.equal(env.TOLLGATE_DIRECT_CIDRS, '172.31.0.0/16=us-west-2/us-west-2a');
    assert.ok(existsSync(env.TOLLGATE_GEOIP_COUNTRY_DB!) && existsSync(env.TOLLGATE_GEOIP_ASN_DB!));
    const ranges = JSON.parse(readFileSync(env.TOLLGATE_CLOUD_RANGES!.replace(/^aws:/, ''), 'utf8')) as { prefixes: Array<{ service: string; region: string }> };
    assert.ok(ranges.prefixes.some((p) => p.service === 'S3' && p.region === 'us-east-1'));
    assert.ok(ranges.prefixes.some((p) => p.service === 'AMAZON'));
  });
});
