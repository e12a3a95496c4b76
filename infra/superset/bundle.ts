// Writes Tollgate's Superset bundle (libs/clickhouse/src/superset.ts) as a ZIP:
//
//   node infra/superset/bundle.ts <out.zip>
//
// The store is the one every Tollgate command uses, from the same settings: the ClickHouse server
// at TOLLGATE_CLICKHOUSE_URL (as TOLLGATE_CLICKHOUSE_USER, database TOLLGATE_CLICKHOUSE_DATABASE),
// else the embedded chDB store in TOLLGATE_DATA_DIR. The password is not written into the bundle:
// Superset reads TOLLGATE_CLICKHOUSE_PASSWORD itself (superset_config.py).
import { mkdirSync } from 'node:fs';
import { supersetUri, writeBundle } from '@tollgate/clickhouse';
import { loadSettings, settings } from '@tollgate/config';

const [out] = process.argv.slice(2);
if (!out) {
  process.stderr.write('usage: node infra/superset/bundle.ts <out.zip>\n');
  process.exit(2);
}
const s = loadSettings(settings.clickhouse, process.env);
// Superset opens the embedded store's directory for each query: it must exist.
if (!s.url) mkdirSync(s.dataDir, { recursive: true });
const uri = supersetUri(s);
writeBundle(out, uri, { database: s.database });
process.stderr.write(`Superset bundle ${out}: database ${uri}\n`);
