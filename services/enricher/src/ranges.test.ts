import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '@tollgate/config';
import { parseIp } from './ip.ts';
import { loadCloudRanges } from './ranges.ts';

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
    { ip_prefix: '52.95.0.0/16', region: 'eu-central-1', service: 'AMAZON', network_border_group: 'eu-central-1' },
    { ip_prefix: '52.95.0.0/16', region: 'eu-central-1', service: 'S3', network_border_group: 'eu-central-1' },
    { ip_prefix: '52.95.4.0/24', region: 'eu-central-1', service: 'DYNAMODB', network_border_group: 'eu-central-1' },
  ],
  ipv6_prefixes: [{ ipv6_prefix: '2a05:d07a:a000::/40', region: 'eu-central-1', service: 'S3', network_border_group: 'eu-central-1' }],
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
    { name: 'Storage', id: 'Storage', properties: { changeNumber: 1, region: '', regionId: 0, platform: 'Azure', systemService: 'AzureStorage', addressPrefixes: ['20.38.96.0/19'] } },
    { name: 'Storage.WestUS', id: 'Storage.WestUS', properties: { changeNumber: 1, region: 'westus', regionId: 33, platform: 'Azure', systemService: 'AzureStorage', addressPrefixes: ['20.38.96.0/19'] } },
  ],
});

test('AWS, GCP and Azure range files load into one trie with the most specific answer', () => {
  const t = loadCloudRanges([`aws:${aws}`, `gcp:${gcp}`, `azure:${azure}`]);
  const at = (ip: string) => {
    const r = t.lookup(parseIp(ip)!);
    return r && `${r.provider}/${r.service}/${r.region}`;
  };
  assert.equal(at('52.95.1.1'), 'aws/S3/eu-central-1');
  assert.equal(at('52.95.4.9'), 'aws/DYNAMODB/eu-central-1');
  assert.equal(at('2a05:d07a:a000::5'), 'aws/S3/eu-central-1');
  assert.equal(at('34.81.0.1'), 'gcp/Google Cloud/asia-east1');
  assert.equal(at('2600:1900:4001::1'), 'gcp/Google Cloud/us-central1');
  assert.equal(at('20.38.100.1'), 'azure/AzureStorage/westus', 'regional tag beats the global one');
  assert.equal(at('20.38.1.1'), 'azure/AzureCloud/');
  assert.equal(t.lookup(parseIp('20.38.1.1')!)?.generic, true);
  assert.equal(at('8.8.8.8'), undefined);
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
