import { test } from 'node:test';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '@tollgate/config';
import { createEnrichContext, createInventorySource, loadEnricherSettings } from './factory.ts';
import { eventsSource } from './inventory.ts';
import { added, node } from './testkit.ts';

const GEO = fileURLToPath(new URL('../../../test/fixtures/geoip/', import.meta.url));

test('the context is built from environment strings', () => {
  const s = loadEnricherSettings({
    TOLLGATE_GEOIP_COUNTRY_DB: `${GEO}GeoIP2-Country-Test.mmdb`,
    TOLLGATE_GEOIP_ASN_DB: `${GEO}GeoLite2-ASN-Test.mmdb`,
    TOLLGATE_DIRECT_CIDRS: '192.168.100.0/24=on-prem/dc1',
    TOLLGATE_PRIVATE_CIDRS: '198.18.0.0/15',
    TOLLGATE_NAT_GATEWAY: 'true',
    TOLLGATE_CLOUD: 'gcp',
    TOLLGATE_POD_GRACE_MS: '1000',
    TOLLGATE_K8S_SOURCE: 'sim',
  });
  assert.equal(s.k8sSource, 'sim');
  const ctx = createEnrichContext(s);
  assert.deepEqual([ctx.cloud, ctx.natGateway], ['gcp', true]);
  assert.equal(ctx.classifier.info('89.160.20.112').geo.country, 'SE');
  assert.equal(ctx.classifier.info('89.160.20.112').geo.asn, 29518);
  assert.equal(ctx.classifier.info('192.168.100.9').direct?.zone, 'dc1');
  assert.equal(ctx.classifier.info('198.18.1.1').private, true);
});

test('a set but unreadable file or a bad value is a ConfigError naming the setting', () => {
  const named = (env: Record<string, string>, setting: string) =>
    assert.throws(() => createEnrichContext(loadEnricherSettings(env)), (e: unknown) => e instanceof ConfigError && e.setting === setting);
  named({ TOLLGATE_GEOIP_COUNTRY_DB: '/nonexistent/country.mmdb' }, 'TOLLGATE_GEOIP_COUNTRY_DB');
  named({ TOLLGATE_GEOIP_ASN_DB: `${GEO}GeoIP2-Country-Test.json` }, 'TOLLGATE_GEOIP_ASN_DB');
  named({ TOLLGATE_DIRECT_CIDRS: 'nonsense' }, 'TOLLGATE_DIRECT_CIDRS');
  named({ TOLLGATE_CLOUD_RANGES: 'aws:/nonexistent.json' }, 'TOLLGATE_CLOUD_RANGES');
  named({ TOLLGATE_CLOUD: 'oracle' }, 'TOLLGATE_CLOUD');
});

test('inventory sources by name; sim takes the events or a source', async () => {
  const events = [added(node('n1', '10.0.0.1', 'a', 'r'))];
  const got: unknown[] = [];
  await createInventorySource('sim', { sim: events }).start((e) => got.push(e));
  assert.deepEqual(got, events);
  const src = eventsSource(events, 'custom');
  assert.equal(createInventorySource('sim', { sim: src }), src);
  assert.equal(createInventorySource('file:/tmp/x.json').name, 'file:/tmp/x.json');
  // kube: the kubeconfig is read here, before any connection (a bad one fails before Kafka opens).
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-factory-'));
  const kc = join(dir, 'config');
  writeFileSync(kc, 'apiVersion: v1\nclusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]\nusers: [{name: u, user: {token: t}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n');
  assert.equal(createInventorySource('kube', { kubeconfig: kc }).name, 'kube');
  assert.throws(() => createInventorySource('kube', { kubeconfig: join(dir, 'missing') }), (e: unknown) => e instanceof ConfigError && e.setting === 'KUBECONFIG');
  rmSync(dir, { recursive: true, force: true });
  assert.throws(() => createInventorySource('sim'), (e: unknown) => e instanceof ConfigError && e.setting === 'TOLLGATE_K8S_SOURCE');
  assert.throws(() => createInventorySource('etcd'), /not kube, file:<path> or sim/);
});
