// Writes Tollgate's Superset bundle (libs/clickhouse/src/superset.ts) as a ZIP:
//
//   node infra/superset/bundle.ts <out.zip> <sqlalchemy-uri> [<database>]
//
// The URI is the store Superset reads: `clickhousedb:///<db>?interface=chdb&path=<abs dir>` for an
// embedded chDB store, `clickhousedb://user:password@host:8123/<db>` for a ClickHouse server.
import { writeBundle } from '@tollgate/clickhouse';

const [out, uri, database] = process.argv.slice(2);
if (!out || !uri) {
  process.stderr.write('usage: node infra/superset/bundle.ts <out.zip> <sqlalchemy-uri> [<database>]\n');
  process.exit(2);
}
writeBundle(out, uri, { database });
