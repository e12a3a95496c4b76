// The Superset bundle: one definition for every store. The bundle for a ClickHouse server and the
// one for the embedded store differ in the database's URI and nothing else; a server's password is
// never written into it; the ZIP reads back (with Python's zipfile, what Superset itself uses) as
// exactly the files bundleFiles gives.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { loadSettings, settings } from '@tollgate/config';
import { CHARTS, DASHBOARDS, DATASETS, bundleFiles, supersetUri, writeBundle } from './superset.ts';

const server = loadSettings(settings.clickhouse, {
  TOLLGATE_CLICKHOUSE_URL: 'http://clickhouse:8123',
  TOLLGATE_CLICKHOUSE_USER: 'tollgate',
  TOLLGATE_CLICKHOUSE_PASSWORD: 'pw-Zx81-never-written',
  TOLLGATE_CLICKHOUSE_DATABASE: 'tollgate',
});
const embedded = loadSettings(settings.clickhouse, { TOLLGATE_DATA_DIR: '/var/lib/tollgate/chdb' });

test('supersetUri: a server by user, host, port and database (no password, even one in the URL); the embedded store by its absolute path', () => {
  assert.equal(supersetUri(server), 'clickhousedb://tollgate@clickhouse:8123/tollgate');
  assert.equal(supersetUri({ ...server, url: 'http://someone:hunter2@ch.example:18123/' }), 'clickhousedb://tollgate@ch.example:18123/tollgate');
  assert.equal(supersetUri({ ...server, url: 'https://ch.example', user: 'a b', database: 'costs' }), 'clickhousedb://a%20b@ch.example:8443/costs?secure=true');
  assert.equal(supersetUri({ ...server, url: 'http://ch.example' }), 'clickhousedb://tollgate@ch.example:8123/tollgate');
  assert.equal(supersetUri(embedded), 'clickhousedb:///tollgate?interface=chdb&path=/var/lib/tollgate/chdb');
  assert.equal(supersetUri({ ...embedded, dataDir: 'rel/store' }), `clickhousedb:///tollgate?interface=chdb&path=${join(process.cwd(), 'rel/store')}`);
  assert.throws(() => supersetUri({ ...server, url: 'tcp://clickhouse:9000' }), /TOLLGATE_CLICKHOUSE_URL/);
});

test('the bundle for a server differs from the embedded one in the database URI only', () => {
  const a = bundleFiles(supersetUri(embedded), embedded.database);
  const b = bundleFiles(supersetUri(server), server.database);
  // What the definitions declare, counted here from them: metadata, one database, the datasets, charts and dashboards.
  assert.equal(a.size, 2 + DATASETS.length + CHARTS.length + DASHBOARDS.length);
  assert.deepEqual([...b.keys()], [...a.keys()]);
  const differing = [...a.keys()].filter((k) => a.get(k) !== b.get(k));
  assert.deepEqual(differing, ['databases/Tollgate.yaml']);
  const da = parse(a.get('databases/Tollgate.yaml')!) as Record<string, unknown>;
  const db = parse(b.get('databases/Tollgate.yaml')!) as Record<string, unknown>;
  assert.equal(da.sqlalchemy_uri, 'clickhousedb:///tollgate?interface=chdb&path=/var/lib/tollgate/chdb');
  assert.equal(db.sqlalchemy_uri, 'clickhousedb://tollgate@clickhouse:8123/tollgate');
  assert.deepEqual({ ...db, sqlalchemy_uri: null }, { ...da, sqlalchemy_uri: null });
  for (const text of b.values()) assert.ok(!text.includes(server.password), 'the password is in no file of the bundle');
});

const python = ['python3.11', 'python3'].find((p) => spawnSync(p, ['--version']).status === 0);

test('writeBundle: a ZIP with one root folder that Python reads back as exactly bundleFiles', { skip: python ? undefined : 'no python3 to read the ZIP back' }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-bundle-test-'));
  try {
    const zip = join(dir, 'sub', 'bundle.zip');
    const uri = supersetUri(server);
    writeBundle(zip, uri, { database: server.database });
    const read = spawnSync(
      python!,
      ['-c', 'import json, sys, zipfile\nz = zipfile.ZipFile(sys.argv[1])\nassert z.testzip() is None\nprint(json.dumps({i.filename: z.read(i).decode("utf-8") for i in z.infolist()}))', zip],
      { encoding: 'utf8' },
    );
    assert.equal(read.status, 0, read.stderr);
    const got = JSON.parse(read.stdout) as Record<string, string>;
    const want = Object.fromEntries([...bundleFiles(uri, server.database)].map(([path, text]) => [`tollgate_dashboards/${path}`, text]));
    assert.deepEqual(got, want);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
