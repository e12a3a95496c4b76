import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { viewEnriched, type EnrichedFlowView as EnrichedFlow, type RawFlowBatch, type SourceRef } from '@tollgate/schema';
import { Classifier, parseDirectCidrs } from './classifier.ts';
import { enrichBatch as enrichEncoded, newCounters, type EnrichContext, type EnrichCounters } from './enrich.ts';

/** enrichBatch with its dictionary-encoded flows resolved, as the assertions read them. */
const enrichBatch = (raw: RawFlowBatch, source: SourceRef, ctx: EnrichContext, counters?: EnrichCounters) => {
  const out = enrichEncoded(raw, source, ctx, counters);
  return { ...out, flows: viewEnriched(out) };
};
import { openGeoIp } from './geoip.ts';
import { OwnerIndex } from './owner-index.ts';
import { buildRangeTrie, parseAwsRanges } from './ranges.ts';
import { added, batch, deleted, flow, node, pod, service, SOURCE, workload } from './testkit.ts';

const GEO = fileURLToPath(new URL('../../../test/fixtures/geoip/', import.meta.url));
const geoip = openGeoIp({ countryDb: `${GEO}GeoIP2-Country-Test.mmdb`, asnDb: `${GEO}GeoLite2-ASN-Test.mmdb` });

// A small cluster: n1 and n2 in two zones of us-east-1, n3 in eu-west-1.
const n1 = node('n1', '10.0.1.10', 'us-east-1a', 'us-east-1');
const n2 = node('n2', '10.0.2.10', 'us-east-1b', 'us-east-1');
const n3 = node('n3', '10.1.0.10', 'eu-west-1a', 'eu-west-1');
const webDeploy = workload('Deployment', 'web', 'shop');
const webRs = workload('ReplicaSet', 'web-5d9c', 'shop', webDeploy);
const web = pod('web-5d9c-abcde', 'shop', 'n1', '10.244.1.5', { owner: webRs, ip6: 'fd00:10:244:1::5' });
const apiDeploy = workload('Deployment', 'api', 'shop');
const apiRs = workload('ReplicaSet', 'api-77f', 'shop', apiDeploy);
const api = pod('api-77f-xyz', 'shop', 'n2', '10.244.2.7', { owner: apiRs });
const apiSvc = service('api', 'shop', '10.96.0.10');
const cron = workload('CronJob', 'backup', 'ops');
const job = workload('Job', 'backup-28930', 'ops', cron);
const backup = pod('backup-28930-q8x', 'ops', 'n1', '10.244.1.9', { owner: job });
const sts = workload('StatefulSet', 'db', 'shop');
const db0 = pod('db-0', 'shop', 'n3', '10.245.0.4', { owner: sts });
const ds = workload('DaemonSet', 'fluentbit', 'logging');
const fluent = pod('fluentbit-k2j', 'logging', 'n1', '10.244.1.20', { owner: ds });
const exporterDs = workload('DaemonSet', 'node-exporter', 'monitoring');
const exporter = pod('node-exporter-n1', 'monitoring', 'n1', '10.0.1.10', { owner: exporterDs, hostNetwork: true, hostPorts: [{ port: 9100 }] });
const bare = pod('debug', 'default', 'n2', '10.244.2.99');

function cluster(opts: { direct?: string[]; natGateway?: boolean; aws?: unknown } = {}): EnrichContext {
  const index = new OwnerIndex({ podGraceMs: 30_000 });
  // Pods before their owners: the chain resolves when the owners arrive.
  for (const o of [web, api, backup, db0, fluent, exporter, bare, n1, n2, n3, apiSvc, webRs, webDeploy, apiRs, apiDeploy, cron, job, sts, ds, exporterDs]) index.apply(added(o));
  const cloud = opts.aws ? buildRangeTrie(parseAwsRanges(opts.aws)) : undefined;
  return { index, classifier: new Classifier({ geoip, direct: parseDirectCidrs(opts.direct ?? []), cloud }), cloud: '', natGateway: opts.natGateway ?? false };
}

const one = (flows: EnrichedFlow[]): EnrichedFlow => {
  assert.equal(flows.length, 1, JSON.stringify(flows, null, 1));
  return flows[0]!;
};

test('DNAT\'d Service traffic across zones is cross_zone, to the real backend, and billed once', () => {
  const ctx = cluster();
  // On n1: web -> ClusterIP 10.96.0.10:80, answered by api 10.244.2.7:8080.
  const onN1 = flow({ src: '10.244.1.5', sport: 41000, dst: '10.96.0.10', dport: 80, responder: '10.244.2.7', rport: 8080, orig: 1_000, reply: 50_000 });
  // On n2 the same connection arrives already DNAT'd.
  const onN2 = flow({ src: '10.244.1.5', sport: 41000, dst: '10.244.2.7', dport: 8080, orig: 1_000, reply: 50_000 });
  const a = one(enrichBatch(batch('n1', [onN1]), SOURCE, ctx).flows);
  const b = one(enrichBatch(batch('n2', [onN2]), SOURCE, ctx).flows);

  assert.equal(a.role, 'INITIATOR');
  assert.equal(a.class, 'CROSS_ZONE');
  assert.equal(a.cloud, 'aws');
  assert.deepEqual(
    { ...a.local },
    { ip: '10.244.1.5', port: 41000, kind: 'POD', cluster: 'prod', namespace: 'shop', workload_kind: 'Deployment', workload: 'web', pod: 'web-5d9c-abcde', node: 'n1', zone: 'us-east-1a', region: 'us-east-1', country: '', asn: 0, as_org: '', service: '', labels: {} },
  );
  assert.deepEqual(
    [a.remote.ip, a.remote.port, a.remote.kind, a.remote.workload_kind, a.remote.workload, a.remote.pod, a.remote.zone],
    ['10.244.2.7', 8080, 'POD', 'Deployment', 'api', 'api-77f-xyz', 'us-east-1b'],
  );
  assert.deepEqual([a.egress_bytes, a.ingress_bytes, a.egress_packets, a.ingress_packets], [1_000, 50_000, 1, 50]);

  assert.equal(b.role, 'RESPONDER');
  assert.equal(b.class, 'CROSS_ZONE');
  assert.equal(b.local.workload, 'api');
  assert.equal(b.local.port, 8080);
  assert.equal(b.remote.workload, 'web');
  assert.equal(b.remote.port, 41000);
  assert.deepEqual([b.egress_bytes, b.ingress_bytes], [50_000, 1_000]);
  // Every byte is some workload's egress exactly once.
  assert.equal(a.egress_bytes + b.egress_bytes, 51_000);
  // The Service the client addressed stays on the record where the DNAT is visible (n1).
  assert.equal(a.service, 'shop/api');
  assert.equal(b.service, '', 'n2 saw the flow already DNAT\'d: no ClusterIP in it');
  assert.equal(a.time, 1_000_000);
});

test('same-node pod-to-pod gives two records, one per side', () => {
  const ctx = cluster();
  const out = enrichBatch(batch('n1', [flow({ src: '10.244.1.5', dst: '10.244.1.20', dport: 24224, orig: 7_000, reply: 300 })]), SOURCE, ctx).flows;
  assert.equal(out.length, 2);
  const [i, r] = out;
  assert.deepEqual([i!.role, i!.local.workload, i!.remote.workload, i!.class, i!.egress_bytes, i!.ingress_bytes], ['INITIATOR', 'web', 'fluentbit', 'SAME_ZONE', 7_000, 300]);
  assert.deepEqual([r!.role, r!.local.workload_kind, r!.local.workload, r!.remote.workload, r!.class, r!.egress_bytes, r!.ingress_bytes], ['RESPONDER', 'DaemonSet', 'fluentbit', 'web', 'SAME_ZONE', 300, 7_000]);
});

test('internet egress carries GeoIP country and ASN, and the NAT gateway flag', () => {
  const ctx = cluster({ natGateway: true });
  // Masqueraded: the reply comes back to the node IP.
  const f = one(enrichBatch(batch('n1', [flow({ src: '10.244.1.5', dst: '89.160.20.112', dport: 443, replyDst: '10.0.1.10', orig: 2_000, reply: 90_000 })]), SOURCE, ctx).flows);
  assert.equal(f.class, 'INTERNET');
  assert.equal(f.nat_gateway, true);
  assert.deepEqual(
    { ...f.remote },
    { ip: '89.160.20.112', port: 443, kind: 'EXTERNAL', cluster: '', namespace: '', workload_kind: '', workload: '', pod: '', node: '', zone: '', region: '', country: 'SE', asn: 29518, as_org: 'Bredband2 AB', service: '', labels: {} },
  );
  assert.deepEqual([f.egress_bytes, f.ingress_bytes], [2_000, 90_000]);
  // Not through a NAT gateway: no flag.
  const g = one(enrichBatch(batch('n1', [flow({ src: '10.244.1.5', dst: '89.160.20.112', dport: 443, orig: 1, reply: 1 })]), SOURCE, cluster()).flows);
  assert.equal(g.nat_gateway, false);
});

test('IPv6: a dual-stack pod talking to the internet, addresses matched whatever their spelling', () => {
  const ctx = cluster();
  const f = one(enrichBatch(batch('n1', [flow({ src: 'fd00:10:244:1:0:0:0:5', dst: '2001:218::1', dport: 443, orig: 500, reply: 4_000 })]), SOURCE, ctx).flows);
  assert.equal(f.family, 'IPV6');
  assert.equal(f.class, 'INTERNET');
  assert.equal(f.local.ip, 'fd00:10:244:1::5');
  assert.equal(f.local.workload, 'web');
  assert.equal(f.remote.country, 'JP');
  // An unknown ULA address is private.
  const p = one(enrichBatch(batch('n1', [flow({ src: 'fd00:10:244:1::5', dst: 'fd12:3456::9', dport: 5432, orig: 1, reply: 1 })]), SOURCE, ctx).flows);
  assert.equal(p.class, 'PRIVATE');
});

const AWS = {
  syncToken: '1',
  createDate: '2026-01-01-00-00-00',
  prefixes: [
    { ip_prefix: '52.216.0.0/15', region: 'us-east-1', service: 'AMAZON', network_border_group: 'us-east-1' },
    { ip_prefix: '52.216.0.0/15', region: 'us-east-1', service: 'S3', network_border_group: 'us-east-1' },
    { ip_prefix: '3.0.0.0/9', region: 'GLOBAL', service: 'AMAZON', network_border_group: 'GLOBAL' },
    { ip_prefix: '3.5.0.0/19', region: 'eu-west-1', service: 'EC2', network_border_group: 'eu-west-1' },
  ],
  ipv6_prefixes: [
    { ipv6_prefix: '2600:1f00::/24', region: 'GLOBAL', service: 'AMAZON', network_border_group: 'GLOBAL' },
    { ipv6_prefix: '2600:1fa0:4000::/40', region: 'us-east-1', service: 'S3', network_border_group: 'us-east-1' },
  ],
};

test('cloud_service: S3 beats the generic AMAZON entry, the most specific prefix wins, IPv6 too; AMAZON and EC2 stay internet', () => {
  const ctx = cluster({ aws: AWS });
  const run = (dst: string) => one(enrichBatch(batch('n1', [flow({ src: '10.244.1.5', dst, dport: 443, orig: 10, reply: 10 })]), SOURCE, ctx).flows);
  const s3 = run('52.217.4.4');
  assert.deepEqual([s3.class, s3.cloud_service, s3.cloud_service_region, s3.remote.region, s3.remote.service], ['CLOUD_SERVICE', 'S3', 'us-east-1', 'us-east-1', 'S3']);
  // EC2 and AMAZON-only addresses are other customers' machines (DESIGN.md section 5): internet,
  // with no service or region of the range on the remote.
  const ec2 = run('3.5.1.1');
  assert.deepEqual([ec2.class, ec2.cloud_service, ec2.cloud_service_region, ec2.remote.service, ec2.remote.region], ['INTERNET', '', '', '', '']);
  const generic = run('3.100.0.1');
  assert.deepEqual([generic.class, generic.cloud_service, generic.remote.service], ['INTERNET', '', '']);
  const s3v6 = run('2600:1fa0:4000::10');
  assert.deepEqual([s3v6.class, s3v6.cloud_service], ['CLOUD_SERVICE', 'S3']);
  const amazonV6 = run('2600:1f00::10');
  assert.equal(amazonV6.class, 'INTERNET');
  assert.equal(s3.nat_gateway, false);
});

test('through a NAT gateway: S3 and EC2 addresses both pay NAT processing, an exempt S3 does not', () => {
  const ctx = { ...cluster({ aws: AWS }), natGateway: true };
  const run = (c: EnrichContext, dst: string) => one(enrichBatch(batch('n1', [flow({ src: '10.244.1.5', dst, dport: 443, orig: 10, reply: 10 })]), SOURCE, c).flows);
  assert.deepEqual([run(ctx, '52.217.4.4').class, run(ctx, '52.217.4.4').nat_gateway], ['CLOUD_SERVICE', true]);
  assert.deepEqual([run(ctx, '3.5.1.1').class, run(ctx, '3.5.1.1').nat_gateway], ['INTERNET', true]);
  const exempt = { ...ctx, natExempt: new Set(['S3']) };
  assert.deepEqual([run(exempt, '52.217.4.4').nat_gateway, run(exempt, '3.5.1.1').nat_gateway], [false, true]);
});

test('direct beats cloud_service and in-cluster', () => {
  const ctx = cluster({ aws: AWS, direct: ['52.217.0.0/16=us-east-1/use1-az4', '10.244.2.0/24=us-east-1'] });
  const run = (dst: string) => one(enrichBatch(batch('n1', [flow({ src: '10.244.1.5', dst, dport: 443, orig: 10, reply: 10 })]), SOURCE, ctx).flows);
  const s3 = run('52.217.4.4');
  assert.deepEqual([s3.class, s3.cloud_service, s3.remote.region, s3.remote.zone], ['DIRECT', '', 'us-east-1', 'use1-az4']);
  const pod = run('10.244.2.7');
  assert.equal(pod.class, 'DIRECT');
  assert.equal(pod.remote.workload, 'api', 'a known endpoint is still named');
});

test('an unknown 10.x address is private, never same_zone; cross_region by region labels', () => {
  const ctx = cluster();
  const run = (dst: string) => one(enrichBatch(batch('n1', [flow({ src: '10.244.1.5', dst, dport: 5432, orig: 10, reply: 10 })]), SOURCE, ctx).flows);
  const unknown = run('10.50.3.4');
  assert.equal(unknown.class, 'PRIVATE');
  assert.equal(unknown.remote.kind, 'EXTERNAL');
  assert.equal(unknown.remote.country, '');
  assert.equal(run('100.64.1.1').class, 'PRIVATE');
  const db = run('10.245.0.4');
  assert.deepEqual([db.class, db.remote.workload_kind, db.remote.workload, db.remote.region], ['CROSS_REGION', 'StatefulSet', 'db', 'eu-west-1']);
  // A node is an in-cluster endpoint: the kubelet on n2 is in the other zone.
  const kubelet = run('10.0.2.10');
  assert.deepEqual([kubelet.class, kubelet.remote.kind, kubelet.remote.workload_kind, kubelet.remote.workload], ['CROSS_ZONE', 'NODE', 'Node', 'n2']);
  // The pod's own node is local too: two records, both same-zone.
  const both = enrichBatch(batch('n1', [flow({ src: '10.244.1.5', dst: '10.0.1.10', dport: 10250, orig: 10, reply: 10 })]), SOURCE, ctx).flows;
  assert.deepEqual(both.map((f) => [f.role, f.local.kind, f.class]), [['INITIATOR', 'POD', 'SAME_ZONE'], ['RESPONDER', 'NODE', 'SAME_ZONE']]);
  // A Service ClusterIP nobody answered for (not un-DNAT'd).
  const svc = run('10.96.0.10');
  assert.deepEqual([svc.remote.kind, svc.remote.workload_kind, svc.remote.workload, svc.remote.namespace], ['SERVICE', 'Service', 'api', 'shop']);
});

test('owners: Deployment, CronJob, StatefulSet, DaemonSet, bare Pod', () => {
  const ctx = cluster();
  const owner = (nodeName: string, ip: string) => {
    const f = one(enrichBatch(batch(nodeName, [flow({ src: ip, dst: '10.50.0.1', dport: 53, orig: 1, reply: 1, protocol: 17 })]), SOURCE, ctx).flows);
    return `${f.local.namespace}/${f.local.workload_kind}/${f.local.workload}`;
  };
  assert.equal(owner('n1', '10.244.1.5'), 'shop/Deployment/web');
  assert.equal(owner('n1', '10.244.1.9'), 'ops/CronJob/backup');
  assert.equal(owner('n3', '10.245.0.4'), 'shop/StatefulSet/db');
  assert.equal(owner('n1', '10.244.1.20'), 'logging/DaemonSet/fluentbit');
  assert.equal(owner('n2', '10.244.2.99'), 'default/Pod/debug');
});

test('owners that have not arrived yet: the chain stops at the last known reference', () => {
  const index = new OwnerIndex({ podGraceMs: 0 });
  const d = workload('Deployment', 'late', 'ns');
  const rs = workload('ReplicaSet', 'late-1', 'ns', d);
  const p = pod('late-1-a', 'ns', 'n1', '10.244.1.77', { owner: rs });
  index.apply(added(p));
  const info = () => index.info(index.lookupIp('10.244.1.77', 5)!);
  assert.deepEqual([info().workload_kind, info().workload], ['ReplicaSet', 'late-1']);
  index.apply(added(rs));
  assert.deepEqual([info().workload_kind, info().workload], ['Deployment', 'late'], 'the RS names its Deployment');
  index.apply(added(n1));
  assert.equal(info().zone, 'us-east-1a', 'zone once the node arrives');
});

test('pod IP reuse is resolved by the flow time; a deleted pod stays matchable for the grace period', () => {
  const ctx = cluster();
  const oldPod = pod('old', 'shop', 'n1', '10.244.1.50', { owner: webRs });
  const newPod = pod('new', 'shop', 'n1', '10.244.1.50', { owner: apiRs });
  const T = 2_000_000;
  ctx.index.apply(added(oldPod, T));
  ctx.index.apply(deleted(oldPod, T + 60_000));
  ctx.index.apply(added(newPod, T + 75_000)); // within the 30 s grace of the old one
  const at = (ws: number, flowStart = 0) =>
    enrichBatch(batch('n1', [flow({ src: '10.244.1.50', dst: '89.160.20.112', dport: 443, orig: 10, reply: 10, flowStart })], ws, ws + 10_000), SOURCE, ctx).flows.map((f) => f.local.pod);
  assert.deepEqual(at(T + 10_000), ['old']);
  assert.deepEqual(at(T + 70_000), ['old'], 'deleted 10 s ago: still within grace');
  assert.deepEqual(at(T + 70_000, T + 76_000), ['new'], 'a flow that started after the new pod took the IP');
  assert.deepEqual(at(T + 80_000), ['new']);
  assert.deepEqual(at(T - 100_000), [''], 'before either pod: nobody known; billed to the node, unresolved (never dropped)');
  const late = new OwnerIndex({ podGraceMs: 30_000 });
  late.apply(added(n1));
  late.apply(added(oldPod, T));
  late.apply(deleted(oldPod, T + 60_000));
  assert.equal(late.lookupIp('10.244.1.50', T + 89_999)?.name, 'old');
  assert.equal(late.lookupIp('10.244.1.50', T + 90_000), undefined, 'grace over');
  late.prune(T + 200_000);
  assert.deepEqual(late.size().pods, 0);
  assert.deepEqual(late.size().ips, 1, 'only the node IP remains');
});

test('hostNetwork pods: by declared host port, else the node itself', () => {
  const ctx = cluster();
  // api on n2 scrapes node-exporter on n1 (hostNetwork, hostPort 9100): n1's record.
  const scrape = one(enrichBatch(batch('n1', [flow({ src: '10.244.2.7', dst: '10.0.1.10', dport: 9100, orig: 300, reply: 20_000 })]), SOURCE, ctx).flows);
  assert.deepEqual(
    [scrape.role, scrape.local.kind, scrape.local.ip, scrape.local.workload_kind, scrape.local.workload, scrape.local.pod, scrape.egress_bytes, scrape.class],
    ['RESPONDER', 'POD', '10.0.1.10', 'DaemonSet', 'node-exporter', 'node-exporter-n1', 20_000, 'CROSS_ZONE'],
  );
  // n2's record of the same flow names node-exporter as the remote.
  const onN2 = one(enrichBatch(batch('n2', [flow({ src: '10.244.2.7', dst: '10.0.1.10', dport: 9100, orig: 300, reply: 20_000 })]), SOURCE, ctx).flows);
  assert.deepEqual([onN2.local.workload, onN2.remote.workload, onN2.remote.kind, onN2.egress_bytes], ['api', 'node-exporter', 'POD', 300]);
  // ssh to the node: no pod declares port 22 -> the node.
  const ssh = one(enrichBatch(batch('n1', [flow({ src: '10.244.2.7', dst: '10.0.1.10', dport: 22, orig: 300, reply: 900 })]), SOURCE, ctx).flows);
  assert.deepEqual(
    [ssh.local.kind, ssh.local.workload_kind, ssh.local.workload, ssh.local.namespace, ssh.local.node, ssh.local.zone, ssh.egress_bytes],
    ['NODE', 'Node', 'n1', '', 'n1', 'us-east-1a', 900],
  );
  // UDP 9100 is not the declared TCP port.
  const udp = one(enrichBatch(batch('n1', [flow({ src: '10.244.2.7', dst: '10.0.1.10', dport: 9100, orig: 1, reply: 1, protocol: 17 })]), SOURCE, ctx).flows);
  assert.equal(udp.local.kind, 'NODE');
  // The node initiating (ephemeral source port) is the node.
  const out = one(enrichBatch(batch('n1', [flow({ src: '10.0.1.10', sport: 9100, dst: '89.160.20.112', dport: 443, orig: 5, reply: 5 })]), SOURCE, ctx).flows);
  assert.equal(out.local.workload, 'node-exporter', 'source port equal to a declared host port: that pod');
});

test('flows without bytes are skipped; flows of other nodes produce nothing here', () => {
  const ctx = cluster();
  const c = newCounters();
  const out = enrichBatch(
    batch('n1', [
      flow({ src: '10.244.1.5', dst: '10.244.2.7', dport: 80, orig: 0, reply: 0 }),
      flow({ src: '10.244.2.7', dst: '10.245.0.4', dport: 5432, orig: 100, reply: 100 }), // n2 -> n3, seen on n1?
      flow({ src: '10.244.1.5', dst: '10.244.2.7', dport: 80, orig: 0, reply: 70 }), // only reply bytes: the initiator still records its ingress
    ]),
    SOURCE,
    ctx,
    c,
  ).flows;
  assert.equal(out.length, 1);
  assert.deepEqual([out[0]!.egress_bytes, out[0]!.ingress_bytes], [0, 70]);
  assert.deepEqual(c, { flows: 3, empty: 1, unattributed: 1, records: 1, unresolved: 0, unresolvedBytes: 0, bytes: 70 });
});
