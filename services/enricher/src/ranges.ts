// Cloud provider IP range files, in the formats the providers publish:
//   aws:   https://ip-ranges.amazonaws.com/ip-ranges.json        {prefixes:[{ip_prefix,region,service}], ipv6_prefixes:[{ipv6_prefix,...}]}
//   gcp:   https://www.gstatic.com/ipranges/cloud.json           {prefixes:[{ipv4Prefix|ipv6Prefix, service, scope}]}
//   azure: ServiceTags_Public_*.json (Microsoft download center) {values:[{name, properties:{region, systemService, addressPrefixes}}]}
// Each becomes prefixes -> {provider, service, region}. DESIGN.md section 5: only named managed
// services (S3, DYNAMODB, Storage.WestUS, Sql.EastUS, ...) are `cloud_service`; the provider's
// generic ranges are other customers' machines and stay `internet`:
//   - superset tags (AWS `AMAZON`, Azure `AzureCloud` and `AzureCloud.<region>`) list every
//     address of the provider, named services included. They are not loaded at all: an AMAZON
//     prefix nested in an S3 one must not hide the S3 answer under longest-prefix match.
//   - compute ranges (AWS `EC2`, every GCP cloud.json prefix: cloud.json lists only the
//     "Google Cloud" ranges customers' resources use) are loaded as `generic`: an address in
//     them is internet, also where such a range is carved out of a shorter named one.
// For the same prefix a named service beats a generic range, and a regional entry a global one;
// otherwise the longest prefix wins.
import { readFileSync } from 'node:fs';
import { ConfigError } from '@tollgate/config';
import { parseCidr, PrefixTrie } from './ip.ts';

export type Provider = 'aws' | 'gcp' | 'azure';

export interface CloudRange {
  provider: Provider;
  service: string;
  region: string;
  /** A generic compute range (AWS EC2, GCP cloud.json): other customers' machines, class internet. */
  generic: boolean;
}

export interface RangeEntry {
  cidr: string;
  range: CloudRange;
}

const SETTING = 'TOLLGATE_CLOUD_RANGES';

function fail(msg: string): never {
  throw new ConfigError(SETTING, msg);
}

function asArray(v: unknown, what: string, file: string): unknown[] {
  if (v === undefined) return [];
  if (!Array.isArray(v)) fail(`${file}: '${what}' is not an array`);
  return v;
}

const str = (v: unknown): string => (typeof v === 'string' ? v : '');

export function parseAwsRanges(doc: unknown, file = 'aws ranges'): RangeEntry[] {
  const d = doc as { prefixes?: unknown; ipv6_prefixes?: unknown };
  if (typeof d !== 'object' || d === null || (d.prefixes === undefined && d.ipv6_prefixes === undefined)) fail(`${file}: not an AWS ip-ranges.json (no prefixes)`);
  const out: RangeEntry[] = [];
  for (const [key, field] of [
    ['prefixes', 'ip_prefix'],
    ['ipv6_prefixes', 'ipv6_prefix'],
  ] as const) {
    for (const p of asArray(d[key], key, file) as Array<Record<string, unknown>>) {
      if (!str(p[field])) fail(`${file}: a ${key} entry has no ${field} (not an AWS ip-ranges.json?)`);
      const service = str(p.service);
      if (service === 'AMAZON' || service === '') continue; // the superset of every AWS range
      // GLOBAL (CLOUDFRONT, ROUTE53, GLOBALACCELERATOR, ...) is no region: served at the edge, so
      // not priced cross-region (AWS bills no transfer from a region to CloudFront); the class's own price.
      const region = str(p.region) === 'GLOBAL' ? '' : str(p.region);
      out.push({ cidr: str(p[field]), range: { provider: 'aws', service, region, generic: service === 'EC2' } });
    }
  }
  return out;
}

export function parseGcpRanges(doc: unknown, file = 'gcp ranges'): RangeEntry[] {
  const d = doc as { prefixes?: unknown };
  if (typeof d !== 'object' || d === null || d.prefixes === undefined) fail(`${file}: not a GCP cloud.json (no prefixes)`);
  return (asArray(d.prefixes, 'prefixes', file) as Array<Record<string, unknown>>).map((p, i) => {
    const cidr = str(p.ipv4Prefix) || str(p.ipv6Prefix);
    if (!cidr) fail(`${file}: prefixes[${i}] has no ipv4Prefix or ipv6Prefix (not a GCP cloud.json?)`);
    return { cidr, range: { provider: 'gcp' as const, service: str(p.service) || 'Google Cloud', region: str(p.scope), generic: true } };
  });
}

export function parseAzureRanges(doc: unknown, file = 'azure ranges'): RangeEntry[] {
  const d = doc as { values?: unknown };
  if (typeof d !== 'object' || d === null || d.values === undefined) fail(`${file}: not an Azure ServiceTags file (no values)`);
  const out: RangeEntry[] = [];
  for (const v of asArray(d.values, 'values', file) as Array<{ name?: unknown; properties?: Record<string, unknown> }>) {
    const props = v.properties ?? {};
    const name = str(v.name);
    const service = str(props.systemService) || name.split('.')[0] || name;
    const prefixes = asArray(props.addressPrefixes, `${name}.properties.addressPrefixes`, file);
    if (service === 'AzureCloud') continue; // AzureCloud, AzureCloud.<region>: every Azure address
    for (const cidr of prefixes) {
      out.push({ cidr: str(cidr), range: { provider: 'azure', service, region: str(props.region), generic: false } });
    }
  }
  return out;
}

/** Rank of a range for the same prefix: a named service beats a generic range, a regional entry a global one. */
function better(old: CloudRange, neu: CloudRange): CloudRange {
  const score = (r: CloudRange) => (r.generic ? 0 : 2) + (r.region ? 1 : 0);
  return score(neu) > score(old) ? neu : old;
}

export function buildRangeTrie(entries: RangeEntry[], trie: PrefixTrie<CloudRange> = new PrefixTrie<CloudRange>(), file = 'ranges'): PrefixTrie<CloudRange> {
  for (const e of entries) {
    const c = parseCidr(e.cidr);
    if (!c) fail(`${file}: '${e.cidr}' is not a CIDR`);
    trie.insert(c, e.range, better);
  }
  return trie;
}

/**
 * Loads TOLLGATE_CLOUD_RANGES entries (`aws:<path>`, `gcp:<path>`, `azure:<path>`) into one trie.
 * A missing or unreadable file, or one not in the provider's format, is a ConfigError.
 */
export function loadCloudRanges(specs: string[]): PrefixTrie<CloudRange> {
  const trie = new PrefixTrie<CloudRange>();
  for (const spec of specs) {
    const m = /^(aws|gcp|azure):(.+)$/.exec(spec);
    if (!m) fail(`'${spec}' is not provider:path (provider aws, gcp or azure)`);
    const [, provider, path] = m;
    let doc: unknown;
    try {
      doc = JSON.parse(readFileSync(path!, 'utf8'));
    } catch (err) {
      fail(`cannot read ${provider} ranges from ${path}: ${(err as Error).message}`);
    }
    const entries = provider === 'aws' ? parseAwsRanges(doc, path) : provider === 'gcp' ? parseGcpRanges(doc, path) : parseAzureRanges(doc, path);
    buildRangeTrie(entries, trie, path);
  }
  return trie;
}
