// What an address is, before knowing whether it is a cluster endpoint (DESIGN.md section 4):
// the configured direct ranges, the cloud provider ranges, private ranges and GeoIP. These
// do not change while the enricher runs, so the answer is cached per address (bounded).
// Whether the address is a pod, node or Service depends on time and lives in the OwnerIndex.
import { ConfigError } from '@tollgate/config';
import { canonicalIp, parseCidr, parseIp, PrefixTrie, type Ip } from './ip.ts';
import type { CloudRange } from './ranges.ts';
import { NO_GEO, noGeoIp, type GeoInfo, type GeoIp } from './geoip.ts';

export interface DirectRange {
  cidr: string;
  region: string;
  zone: string;
}

export interface IpInfo {
  /** Canonical text (the key of the owner index). */
  readonly ip: string;
  readonly valid: boolean;
  readonly direct: DirectRange | undefined;
  /** The named managed service the address belongs to (never a generic range). */
  readonly cloud: CloudRange | undefined;
  readonly private: boolean;
  /** Country/ASN, looked up for addresses that are neither direct nor private. */
  readonly geo: GeoInfo;
  /** The parsed address (undefined if not valid). */
  readonly addr: Ip | undefined;
  /** The enricher's per-batch endpoint dictionary: the batch that listed this address, and where. */
  epSeq: number;
  epIdx: number;
}

/** Always private: RFC 1918, CGNAT (RFC 6598), loopback, link-local, ULA. */
export const BUILTIN_PRIVATE = ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '100.64.0.0/10', '127.0.0.0/8', '169.254.0.0/16', 'fc00::/7', 'fe80::/10', '::1/128'];

/** `cidr=region/zone` (zone optional). Bad entries are a ConfigError naming TOLLGATE_DIRECT_CIDRS. */
export function parseDirectCidrs(specs: string[]): PrefixTrie<DirectRange> {
  const trie = new PrefixTrie<DirectRange>();
  for (const spec of specs) {
    const eq = spec.indexOf('=');
    const cidrText = (eq < 0 ? spec : spec.slice(0, eq)).trim();
    const where = eq < 0 ? '' : spec.slice(eq + 1).trim();
    const cidr = parseCidr(cidrText);
    if (!cidr || eq < 0 || !cidrText.includes('/')) throw new ConfigError('TOLLGATE_DIRECT_CIDRS', `'${spec}' is not cidr=region/zone`);
    const [region = '', zone = ''] = where.split('/').map((s) => s.trim());
    if (!region) throw new ConfigError('TOLLGATE_DIRECT_CIDRS', `'${spec}' has no region (cidr=region/zone)`);
    trie.insert(cidr, { cidr: cidrText, region, zone });
  }
  return trie;
}

export function parsePrivateCidrs(extra: string[]): PrefixTrie<true> {
  const trie = new PrefixTrie<true>();
  for (const c of BUILTIN_PRIVATE) trie.insert(parseCidr(c)!, true);
  for (const spec of extra) {
    const cidr = parseCidr(spec);
    if (!cidr || !spec.includes('/')) throw new ConfigError('TOLLGATE_PRIVATE_CIDRS', `'${spec}' is not a CIDR`);
    trie.insert(cidr, true);
  }
  return trie;
}

export interface ClassifierOptions {
  direct?: PrefixTrie<DirectRange>;
  cloud?: PrefixTrie<CloudRange>;
  private?: PrefixTrie<true>;
  geoip?: GeoIp;
  /** Addresses remembered (default 262144); the cache is dropped when full. */
  cacheSize?: number;
}

export class Classifier {
  private readonly direct: PrefixTrie<DirectRange>;
  private readonly cloud: PrefixTrie<CloudRange>;
  private readonly priv: PrefixTrie<true>;
  private readonly geoip: GeoIp;
  private readonly cacheSize: number;
  private cache = new Map<string, IpInfo>();
  hits = 0;
  misses = 0;

  constructor(opts: ClassifierOptions = {}) {
    this.direct = opts.direct ?? new PrefixTrie();
    this.cloud = opts.cloud ?? new PrefixTrie();
    this.priv = opts.private ?? parsePrivateCidrs([]);
    this.geoip = opts.geoip ?? noGeoIp;
    this.cacheSize = opts.cacheSize ?? 262_144;
  }

  /** Static facts about an address as it appears in a conntrack tuple. */
  info(raw: string): IpInfo {
    let i = this.cache.get(raw);
    if (i !== undefined) {
      this.hits++;
      return i;
    }
    this.misses++;
    i = this.compute(raw);
    if (this.cache.size >= this.cacheSize) this.cache = new Map();
    this.cache.set(raw, i);
    return i;
  }

  private compute(raw: string): IpInfo {
    const ip = parseIp(raw);
    if (!ip) return { ip: raw, valid: false, direct: undefined, cloud: undefined, private: false, geo: NO_GEO, addr: undefined, epSeq: 0, epIdx: 0 };
    const canon = canonicalIp(raw)!;
    const direct = this.direct.lookup(ip);
    // A generic range (EC2, GCP compute) is other customers' machines: internet, not cloud_service.
    const range = direct ? undefined : this.cloud.lookup(ip);
    const cloud = range === undefined || range.generic ? undefined : range;
    const priv = this.priv.lookup(ip) === true;
    const geo = direct || priv ? NO_GEO : this.geoip.lookup(canon);
    return { ip: canon, valid: true, direct, cloud, private: priv, geo, addr: ip, epSeq: 0, epIdx: 0 };
  }
}
