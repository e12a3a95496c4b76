import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '@tollgate/config';
import { parseIp } from './ip.ts';
import { loadCloudRanges } from './ranges.ts';
import { Classifier } from './classifier.ts';

const dir = mkdtempSync(join(tmpdir(), 'tollgate-ranges-'));
const file = (name: string, doc: unknown) => {
  const p = join(dir, name);
  writeFileSync(p, typeof doc === 'string' ? doc : JSON.stringify(doc));
  return p;
};

// Tiny files in the providers' published formats.
const aws = file('ip-ranges.json', {
  syncToken: '1767225600',
  createDate: '2026-01-01-00-00-00',
  prefixes: [
    // AMAZON is the superset: every prefix below is listed under it too, and more.
    { ip_prefix: '52.95.0.0/16', region: 'eu-central-1', service: 'AMAZON', network_border_group: 'eu-central-1' },
    { ip_prefix: '52.95.0.0/16', region: 'eu-central-1', service: 'S3', network_border_group: 'eu-central-1' },
    { ip_prefix: '52.95.4.0/24', region: 'eu-central-1', service: 'DYNAMODB', network_border_group: 'eu-central-1' },
    { ip_prefix: '52.95.4.0/24', region: 'eu-central-1', service: 'AMAZON', network_border_group: 'eu-central-1' },
    { ip_prefix: '52.95.9.0/24', region: 'eu-central-1', service: 'AMAZON', network_border_group: 'eu-central-1' },
    { ip_prefix: '35.71.64.0/22', region: 'us-west-2', service: 'AMAZON', network_border_group: 'us-west-2' },
    { ip_prefix: '3.80.0.0/12', region: 'us-east-1', service: 'AMAZON', network_border_group: 'us-east-1' },
    { ip_prefix: '3.80.0.0/12', region: 'us-east-1', service: 'EC2', network_border_group: 'us-east-1' },
    { ip_prefix: '3.80.16.0/24', region: 'us-east-1', service: 'ROUTE53_HEALTHCHECKS', network_border_group: 'us-east-1' },
    { ip_prefix: '52.95.12.0/24', region: 'eu-central-1', service: 'EC2', network_border_group: 'eu-central-1' },
    { ip_prefix: '13.32.0.0/15', region: 'GLOBAL', service: 'CLOUDFRONT', network_border_group: 'GLOBAL' },
    { ip_prefix: '13.32.0.0/15', region: 'GLOBAL', service: 'AMAZON', network_border_group: 'GLOBAL' },
  ],
  ipv6_prefixes: [
    { ipv6_prefix: '2a05:d07a:a000::/40', region: 'eu-central-1', service: 'S3', network_border_group: 'eu-central-1' },
    { ipv6_prefix: '2a05:d07a:a000::/40', region: 'eu-central-1', service: 'AMAZON', network_border_group: 'eu-central-1' },
    { ipv6_prefix: '2a05:d000::/25', region: 'eu-central-1', service: 'EC2', network_border_group: 'eu-central-1' },
  ],
});
const gcp = file('cloud.json', {
  syncToken: '1767225600000',
  creationTime: '2026-01-01T00:00:00.000000',
  prefixes: [
    { ipv4Prefix: '34.80.0.0/15', service: 'Google Cloud', scope: 'asia-east1' },
    { ipv6Prefix: '2600:1900:4000::/44', service: 'Google Cloud', scope: 'us-central1' },
  ],
});
const azure = file('ServiceTags_Public.json', {
  changeNumber: 300,
  cloud: 'Public',
  values: [
    { name: 'AzureCloud', id: 'AzureCloud', properties: { changeNumber: 1, region: '', regionId: 0, platform: 'Azure', systemService: '', addressPrefixes: ['20.38.0.0/16', '2603:1000::/24'] } },
    { name: 'AzureCloud.westus', id: 'AzureCloud.westus', properties: { changeNumber: 1, region: 'westus', regionId: 33, platform: 'Azure', systemService: '', addressPrefixes: ['20.38.96.0/24', '20.38.128.0/18'] } },
    { name: 'Storage', id: 'Storage', properties: { changeNumber: 1, region: '', regionId: 0, platform: 'Azure', systemService: 'AzureStorage', addressPrefixes: ['20.38.96.0/19'] } },
    { name: 'Storage.WestUS', id: 'Storage.WestUS', properties: { changeNumber: 1, region: 'westus', regionId: 33, platform: 'Azure', systemService: 'AzureStorage', addressPrefixes: ['20.38.96.0/19'] } },
    { name: 'Sql.EastUS', id: 'Sql.EastUS', properties: { changeNumber: 1, region: 'eastus', regionId: 32, platform: 'Azure', systemService: 'AzureSQL', addressPrefixes: ['20.38.160.0/24', '2603:1030:210::/48'] } },
  ],
});

/** What the classifier makes of an address: `provider/service/region` of its named service, or undefined (internet). */
function classify(specs: string[]): (ip: string) => string | undefined {
  const c = new Classifier({ cloud: loadCloudRanges(specs) });
  return (ip) => {
    const r = c.info(ip).cloud;
    return r && `${r.provider}/${r.service}/${r.region}`;
  };
}

test('AWS: named services are cloud_service with their region; AMAZON-only and EC2 prefixes are internet', () => {
  const at = classify([`aws:${aws}`]);
  assert.equal(at('52.95.1.1'), 'aws/S3/eu-central-1', 'S3 beats AMAZON on the same prefix');
  assert.equal(at('52.95.4.9'), 'aws/DYNAMODB/eu-central-1', 'the longer named prefix wins');
  assert.equal(at('52.95.9.9'), 'aws/S3/eu-central-1', 'a longer AMAZON prefix nested in S3 does not hide S3');
  assert.equal(at('35.71.64.1'), undefined, 'AMAZON only: internet');
  assert.equal(at('3.80.0.1'), undefined, 'EC2 (and AMAZON): other customers\' machines, internet');
  assert.equal(at('3.80.16.7'), 'aws/ROUTE53_HEALTHCHECKS/us-east-1', 'a named service inside an EC2 range');
  assert.equal(at('52.95.12.1'), undefined, 'an EC2 range carved out of a shorter S3 one is internet');
  assert.equal(at('2a05:d07a:a000::5'), 'aws/S3/eu-central-1', 'IPv6 S3 inside an EC2 /25');
  assert.equal(at('2a05:d000::1'), undefined, 'IPv6 EC2');
  assert.equal(at('13.33.1.1'), 'aws/CLOUDFRONT/', 'GLOBAL is no region (not priced cross-region)');
  assert.equal(at('8.8.8.8'), undefined);
});

test('GCP cloud.json lists only the Google Cloud ranges customers use: internet', () => {
  const at = classify([`gcp:${gcp}`]);
  assert.equal(at('34.81.0.1'), undefined);
  assert.equal(at('2600:1900:4001::1'), undefined);
  const r = loadCloudRanges([`gcp:${gcp}`]).lookup(parseIp('34.81.0.1')!);
  assert.deepEqual(r, { provider: 'gcp', service: 'Google Cloud', region: 'asia-east1', generic: true }, 'loaded, as a generic range');
});

test('Azure: AzureCloud tags are internet, named service tags cloud_service (the regional tag beats the global one)', () => {
  const at = classify([`azure:${azure}`]);
  assert.equal(at('20.38.100.1'), 'azure/AzureStorage/westus');
  assert.equal(at('20.38.96.1'), 'azure/AzureStorage/westus', 'a longer AzureCloud.westus prefix nested in Storage does not hide it');
  assert.equal(at('20.38.160.9'), 'azure/AzureSQL/eastus');
  assert.equal(at('2603:1030:210::9'), 'azure/AzureSQL/eastus');
  assert.equal(at('20.38.1.1'), undefined, 'AzureCloud: internet');
  assert.equal(at('20.38.130.1'), undefined, 'AzureCloud.westus: internet');
  assert.equal(at('2603:1000::1'), undefined);
});

test('the three providers load into one trie', () => {
  const at = classify([`aws:${aws}`, `gcp:${gcp}`, `azure:${azure}`]);
  assert.deepEqual(['52.95.1.1', '3.80.0.1', '34.81.0.1', '20.38.100.1', '20.38.1.1'].map(at), ['aws/S3/eu-central-1', undefined, undefined, 'azure/AzureStorage/westus', undefined]);
});

test('bad range settings are ConfigErrors naming TOLLGATE_CLOUD_RANGES', () => {
  const bad = (specs: string[], re: RegExp) =>
    assert.throws(() => loadCloudRanges(specs), (e: unknown) => e instanceof ConfigError && e.setting === 'TOLLGATE_CLOUD_RANGES' && re.test(e.message));
  bad([`aws:${join(dir, 'missing.json')}`], /cannot read aws ranges/);
  bad([`oracle:${aws}`], /provider:path/);
  bad([aws], /provider:path/);
  bad([`aws:${file('broken.json', '{not json')}`], /cannot read/);
  bad([`gcp:${aws}`], /not a GCP cloud.json/);
  bad([`aws:${file('badcidr.json', { prefixes: [{ ip_prefix: '52.95.0.0/40', service: 'S3', region: 'x' }] })}`], /not a CIDR/);
});
