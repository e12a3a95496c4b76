// The `tollgate` command as a user meets it: help, and bad configuration ending in one line that
// names the setting (exit code 2), never a stack trace.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../../../bin/tollgate.mjs', import.meta.url));

function tollgate(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [BIN, ...args], { env: { PATH: process.env.PATH ?? '', ...env }, encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

test('help lists the commands; each command has --help', () => {
  const top = tollgate(['--help']);
  assert.equal(top.code, 0);
  for (const c of ['demo', 'report', 'agent', 'enricher', 'sink', 'alerts', 'migrate']) assert.match(top.out, new RegExp(`^  ${c} `, 'm'));
  const report = tollgate(['report', '--help']);
  assert.equal(report.code, 0);
  assert.match(report.out, /--format <value>\s+table, json or csv \(csv: the cost per workload and class\) \(default: table\)/);
});

test('usage errors: unknown command, unknown option, bad value', () => {
  assert.equal(tollgate(['nope']).code, 2);
  const opt = tollgate(['report', '--fromat', 'json']);
  assert.equal(opt.code, 2);
  assert.match(opt.err, /^tollgate report: unknown option --fromat/);
  const fmt = tollgate(['report', '--format', 'xml']);
  assert.equal(fmt.code, 2);
  assert.match(fmt.err, /--format: 'xml' is not table, json or csv/);
});

const bad: Array<[string, string[], Record<string, string>, string, RegExp]> = [
  ['unreachable broker', ['agent'], { TOLLGATE_AGENT_SOURCE: 'sim', TOLLGATE_KAFKA_BROKERS: '127.0.0.1:1' }, 'TOLLGATE_KAFKA_BROKERS', /cannot reach any Kafka broker: 127\.0\.0\.1:1/],
  ['no broker for a service', ['sink'], { TOLLGATE_DATA_DIR: '/tmp/tollgate-cli-test-sink' }, 'TOLLGATE_KAFKA_BROKERS', /is empty/],
  ['unwritable data directory', ['report'], { TOLLGATE_DATA_DIR: '/etc/hostname/store' }, 'TOLLGATE_DATA_DIR', /cannot create or write/],
  ['missing GeoIP file', ['enricher'], { TOLLGATE_K8S_SOURCE: 'file:/dev/null', TOLLGATE_GEOIP_COUNTRY_DB: '/nonexistent/country.mmdb' }, 'TOLLGATE_GEOIP_COUNTRY_DB', /nonexistent\/country\.mmdb/],
  ['bad number', ['demo'], { TOLLGATE_KAFKA_PARTITIONS: 'three' }, 'TOLLGATE_KAFKA_PARTITIONS', /not a whole number/],
  ['bad source', ['agent'], { TOLLGATE_AGENT_SOURCE: 'pcap' }, 'TOLLGATE_AGENT_SOURCE', /not one of conntrack, sim/],
];

for (const [what, args, env, setting, detail] of bad) {
  test(`bad configuration (${what}) is one message naming ${setting}`, () => {
    const r = tollgate(args, env);
    assert.equal(r.code, 2, r.err);
    assert.match(r.err, new RegExp(`^tollgate ${args[0]}: configuration error: ${setting}: `));
    assert.match(r.err, detail);
    assert.doesNotMatch(r.err, /\n\s+at /, 'no stack trace');
  });
}
