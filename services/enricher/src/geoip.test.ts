import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '@tollgate/config';
import { Classifier } from './classifier.ts';
import { openGeoIp } from './geoip.ts';

const GEO = fileURLToPath(new URL('../../../test/fixtures/geoip/', import.meta.url));

test('MaxMind test databases: countries and ASNs as their JSON sources list them; IPv4-mapped IPv6; no country', () => {
  const g = openGeoIp({ countryDb: `${GEO}GeoIP2-Country-Test.mmdb`, asnDb: `${GEO}GeoLite2-ASN-Test.mmdb` });
  // GeoIP2-Country-Test.json: ::89.160.20.112/124 SE, ::2.125.160.216/125 GB, 2001:218::/32 JP;
  // GeoLite2-ASN-Test.json: 1.128.0.0/11 AS1221 Telstra, 89.160.20.112/28 AS29518.
  assert.deepEqual(g.lookup('89.160.20.112'), { country: 'SE', asn: 29518, asOrg: 'Bredband2 AB' });
  assert.equal(g.lookup('2.125.160.216').country, 'GB');
  assert.equal(g.lookup('2001:218::1').country, 'JP');
  assert.deepEqual([g.lookup('1.128.0.1').asn, g.lookup('1.128.0.1').asOrg], [1221, 'Telstra Pty Ltd']);
  // An address in no range: no country, no ASN (not an error).
  assert.deepEqual(g.lookup('198.51.100.1'), { country: '', asn: 0, asOrg: '' });
  // IPv4-mapped IPv6, as dual-stack conntrack may show it, is the IPv4 address.
  const c = new Classifier({ geoip: g });
  assert.equal(c.info('::ffff:89.160.20.112').geo.country, 'SE');
  assert.equal(c.info('::ffff:89.160.20.112').ip, c.info('89.160.20.112').ip);
});

test('a missing or unreadable database ends the start with a ConfigError naming the setting', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-geoip-'));
  try {
    writeFileSync(join(dir, 'junk.mmdb'), 'not a database');
    const named = (fn: () => unknown, setting: string) => assert.throws(fn, (e: unknown) => e instanceof ConfigError && e.setting === setting);
    named(() => openGeoIp({ countryDb: join(dir, 'missing.mmdb'), asnDb: '' }), 'TOLLGATE_GEOIP_COUNTRY_DB');
    named(() => openGeoIp({ countryDb: '', asnDb: join(dir, 'junk.mmdb') }), 'TOLLGATE_GEOIP_ASN_DB');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
