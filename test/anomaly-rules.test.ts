// Every anomaly rule against the simulated cluster (seed 7, 8 days, `tollgate demo` into chDB), with
// the truth worked out here from the scenario's connections (libs/sim: the bytes each connection
// carries in each hour, and who owns it), by the rules as the README states them, not by the SQL
// under test. For the default settings and for edited ones (the rule parameters live in tables),
// the anomaly rows ClickHouse returns must be exactly the rows computed here; each rule must fire
// in at least one of the settings and stay silent where it must.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createLogger } from '@tollgate/log';
import { openStore, type Store } from '@tollgate/clickhouse';
import { byAnomalyId, installReferenceAnomalyViews, referenceAnomalyRows } from '@tollgate/clickhouse/testing';
import { billable, createScenario, DAY, HOUR, ownerOf, type Owner } from '@tollgate/sim';

const BIN = fileURLToPath(new URL('../bin/tollgate.mjs', import.meta.url));
const MiB = 2 ** 20;
const STRATUM = [3333, 3334, 3335, 3357, 4444, 5555, 6666, 7777, 14433, 14444, 45560, 45700];
const DEST_CLASSES = new Set(['internet', 'private', 'direct', 'cloud_service']);

interface Settings {
  baseline_days: number;
  new_country_min_bytes: number;
  new_asn_min_bytes: number;
  baseline_min_bytes: number;
  learning_hours: number;
  unexpected_min_bytes: number;
  spike_ratio: number;
  spike_min_bytes: number;
}
const DEFAULTS: Settings = {
  baseline_days: 7,
  new_country_min_bytes: MiB,
  new_asn_min_bytes: MiB,
  baseline_min_bytes: MiB,
  learning_hours: 24,
  unexpected_min_bytes: 1,
  spike_ratio: 3,
  spike_min_bytes: 100 * MiB,
};
/** namespace, workload ('*' = any) -> expected countries */
type Expected = Array<[string, string, string[]]>;

const wname = (o: Owner) => `${o.namespace}/${o.kind}/${o.workload}`;

/**
 * The anomaly views read the known-destinations rollups (0056); migrations 0020/0022's views
 * (window functions over every hourly row, installed beside them as ref_*) are the reference: the
 * same rows, field for field, for the whole store and for windows that start and end mid-day.
 */
async function assertSameAsReference(store: Store, start: number, label: string): Promise<number> {
  let rows = 0;
  for (const [from, to] of [
    [undefined, undefined],
    [start + 30 * HOUR, start + 8 * DAY],
    [start + 3 * DAY + 13 * HOUR, start + 5 * DAY + 7 * HOUR],
    [start + 7 * DAY + 23 * HOUR, start + 8 * DAY + HOUR],
  ] as const) {
    const period = { from, to };
    const want = byAnomalyId(await referenceAnomalyRows(store.client, store.database, period));
    assert.deepEqual(byAnomalyId(await store.anomalyRows(period)), want, `${label}: [${from ?? 0}, ${to ?? 'end'}) as the reference views`);
    rows += want.length;
  }
  return rows;
}

test('anomaly rules: ClickHouse flags exactly what the rules say for the simulated cluster, at default and edited settings', { timeout: 600_000 }, async () => {
  const start = Math.floor(Date.now() / DAY) * DAY - 8 * DAY;
  const scenario = createScenario({ seed: 7, days: 8, scale: 1, start });
  const dataDir = mkdtempSync(join(tmpdir(), 'tollgate-rules-'));
  try {
    const demo = spawnSync(process.execPath, [BIN, 'demo', '--quiet'], {
      env: { ...process.env, TOLLGATE_DATA_DIR: dataDir, TOLLGATE_SIM_SEED: '7', TOLLGATE_SIM_DAYS: '8', TOLLGATE_SIM_START: new Date(start).toISOString(), TOLLGATE_KAFKA_BROKERS: '', TOLLGATE_LOG_LEVEL: 'warn' },
      encoding: 'utf8',
      timeout: 300_000,
    });
    assert.equal(demo.status, 0, demo.stderr);

    // --- the truth, from the connections --------------------------------------------------
    // Egress per (workload, hour, country, asn, port) of connections a workload opened to an external destination.
    interface Cell { w: string; h: number; country: string; asn: number; port: number; cls: string; bytes: number; active: boolean }
    const cells = new Map<string, Cell>();
    const active = new Map<string, Set<number>>(); // workload -> hours with any traffic (any class, either side)
    const mark = (w: string, h: number) => (active.get(w) ?? active.set(w, new Set()).get(w)!).add(h);
    for (const c of scenario.connections()) {
      for (let h = Math.max(start, Math.floor(c.begin / HOUR) * HOUR); h < Math.min(scenario.end, c.end); h += HOUR) {
        const b = billable(c, h, h + HOUR);
        if (b.orig === 0 && b.reply === 0) continue;
        const i = ownerOf(c.init, c.sport);
        const r = ownerOf(c.resp, c.dport);
        if (i) mark(wname(i), h);
        if (r) mark(wname(r), h);
        if (!i || c.resp.t !== 'ext' || !DEST_CLASSES.has(c.resp.ext.cls)) continue;
        const e = c.resp.ext;
        const k = `${wname(i)}|${h}|${e.country}|${e.asn}|${c.dport}|${e.cls}`;
        const cell = cells.get(k) ?? { w: wname(i), h, country: e.country, asn: e.asn, port: c.dport, cls: e.cls, bytes: 0, active: true };
        cell.bytes += b.orig;
        cells.set(k, cell);
      }
    }
    const sum = <K>(key: (c: Cell) => K | undefined) => {
      const m = new Map<string, number>();
      for (const c of cells.values()) {
        const k = key(c);
        if (k !== undefined) m.set(String(k), (m.get(String(k)) ?? 0) + c.bytes);
      }
      return m;
    };
    const hasTraffic = (w: string, from: number, to: number) => [...(active.get(w) ?? [])].some((h) => h >= from && h <= to);

    function truth(s: Settings, expected: Expected): string[] {
      const out: string[] = [];
      const B = s.baseline_days * DAY;
      // NEW_COUNTRY / NEW_ASN
      for (const [rule, dest, min] of [
        ['NEW_COUNTRY', (c: Cell) => c.country || undefined, s.new_country_min_bytes],
        ['NEW_ASN', (c: Cell) => (c.asn ? String(c.asn) : undefined), s.new_asn_min_bytes],
      ] as const) {
        const per = sum((c) => (dest(c) === undefined ? undefined : `${c.w}|${dest(c)}|${c.h}`));
        for (const [k, bytes] of per) {
          const [w, d, hs] = k.split('|') as [string, string, string];
          const h = Number(hs);
          if (bytes < min) continue;
          let base = 0;
          for (let x = h - B; x < h; x += HOUR) base += per.get(`${w}|${d}|${x}`) ?? 0;
          if (base >= s.baseline_min_bytes) continue;
          if (!hasTraffic(w, h - B, h - s.learning_hours * HOUR)) continue;
          out.push(`${rule} ${w} ${d} ${(h - start) / HOUR}`);
        }
      }
      // MINING_PORT: internet or private egress to a stratum port
      for (const c of cells.values()) if (STRATUM.includes(c.port) && (c.cls === 'internet' || c.cls === 'private')) out.push(`MINING_PORT ${c.w} ${c.country}/${c.asn}/${c.port} ${(c.h - start) / HOUR}`);
      // UNEXPECTED_COUNTRY: the most specific expectation of the workload
      const perCountry = sum((c) => (c.country ? `${c.w}|${c.country}|${c.h}` : undefined));
      for (const [k, bytes] of perCountry) {
        const [w, country, hs] = k.split('|') as [string, string, string];
        const [ns, , name] = w.split('/') as [string, string, string];
        const rank = (e: Expected[number]) => (e[0] !== '*' ? 2 : 0) + (e[1] !== '*' ? 1 : 0);
        const rules = expected.filter((e) => (e[0] === '*' || e[0] === ns) && (e[1] === '*' || e[1] === name)).sort((a, b) => rank(b) - rank(a));
        if (rules.length === 0 || rules[0]![2].length === 0 || rules[0]![2].includes(country) || bytes < s.unexpected_min_bytes) continue;
        out.push(`UNEXPECTED_COUNTRY ${w} ${country} ${(Number(hs) - start) / HOUR}`);
      }
      // VOLUME_SPIKE: the hour's egress (destination classes) against the busiest hour of the 7 days before
      const perHour = sum((c) => `${c.w}|${c.h}`);
      for (const [k, bytes] of perHour) {
        const [w, hs] = k.split('|') as [string, string];
        const h = Number(hs);
        let peak = 0;
        for (let x = h - 7 * DAY; x < h; x += HOUR) peak = Math.max(peak, perHour.get(`${w}|${x}`) ?? 0);
        if (bytes < s.spike_min_bytes || bytes < s.spike_ratio * peak || !hasTraffic(w, h - 14 * DAY, h - 7 * DAY)) continue;
        out.push(`VOLUME_SPIKE ${w}  ${(h - start) / HOUR}`);
      }
      return out.sort();
    }

    // --- what ClickHouse says ---------------------------------------------------------------
    const store = await openStore({ url: '', user: 'default', password: '', database: 'tollgate', dataDir }, createLogger('silent'));
    try {
      const sql = (q: string) => store.client.command({ query: q });
      await installReferenceAnomalyViews(store.client, store.database);
      const flagged = async () =>
        (await store.anomalyRows())
          .map((r) => {
            const dest = r.rule === 'MINING_PORT' ? `${r.country}/${r.asn}/${r.port}` : r.rule === 'NEW_ASN' ? String(r.asn) : r.rule === 'VOLUME_SPIKE' ? '' : r.country;
            return `${r.rule} ${r.namespace}/${r.workload_kind}/${r.workload} ${dest} ${(r.window_start - start) / HOUR}`;
          })
          .sort();
      const setSettings = async (s: Partial<Settings>) => {
        for (const [name, value] of Object.entries(s)) await sql(`INSERT INTO tollgate.anomaly_settings (name, value) VALUES ('${name}', ${value})`);
      };
      const fired = (rows: string[], rule: string) => rows.filter((r) => r.startsWith(`${rule} `));

      // 1. Defaults: the planted miner, and nothing else.
      const got = await flagged();
      const want = truth(DEFAULTS, []);
      assert.deepEqual(got, want);
      assert.ok((await assertSameAsReference(store, start, 'defaults')) > 0);
      const rec = 'shop/Deployment/recommender';
      assert.deepEqual(
        got.map((r) => r.split(' ').slice(0, 3).join(' ')).filter((v, i, a) => a.indexOf(v) === i),
        [`MINING_PORT ${rec} BT/35908/3333`, `NEW_ASN ${rec} 35908`, `NEW_COUNTRY ${rec} BT`],
        'fires: the miner (new country, new ASN, stratum port)',
      );
      // silent: web/api's partners (SE, CN, JP, US) are in their baselines; no spike (under the 100 MiB floor); port 443 is not on the list.
      assert.equal(fired(got, 'VOLUME_SPIKE').length, 0);
      assert.equal(fired(got, 'UNEXPECTED_COUNTRY').length, 0, 'no expectations configured');

      // 2. A low floor (8 KiB an hour): api's partner countries pass it every hour, but their baseline
      //    holds more than baseline_min_bytes (1 MiB) after the first days: known, silent at the end.
      const lastDay = (rows: string[], w: string) => rows.filter((r) => r.includes(` ${w} `) && Number(r.split(' ').at(-1)) >= 7 * 24);
      const low: Settings = { ...DEFAULTS, new_country_min_bytes: 8 * 1024, new_asn_min_bytes: 8 * 1024 };
      await setSettings(low);
      const gotLow = await flagged();
      assert.deepEqual(gotLow, truth(low, []));
      await assertSameAsReference(store, start, 'low floor');
      assert.equal(lastDay(fired(gotLow, 'NEW_COUNTRY'), 'web/Deployment/api').length, 0, 'api: countries in its baseline are known');

      // 3. A baseline must hold 20 MiB to make a destination known: api's trickle does not, so its partners
      //    are new every hour (a slow start does not evade the rule); a lower floor and ratio for spikes;
      //    expected countries at the three scopes.
      const edited: Settings = { ...low, baseline_min_bytes: 20 * MiB, spike_ratio: 1.2, spike_min_bytes: 5 * MiB };
      await setSettings(edited);
      const expected: Expected = [
        ['*', '*', ['US', 'SE', 'CN', 'JP', 'GB']],
        ['web', '*', ['SE', 'US']],
        ['web', 'api', ['SE', 'US', 'JP']],
      ];
      for (const [ns, w, cs] of expected) await sql(`INSERT INTO tollgate.expected_countries (namespace, workload, countries) VALUES ('${ns}', '${w}', [${cs.map((c) => `'${c}'`).join(', ')}])`);
      const got2 = await flagged();
      const want2 = truth(edited, expected);
      assert.deepEqual(got2, want2);
      await assertSameAsReference(store, start, 'edited');
      for (const rule of ['NEW_COUNTRY', 'NEW_ASN', 'MINING_PORT', 'UNEXPECTED_COUNTRY']) assert.ok(fired(want2, rule).length > 0, `${rule} fires with the edited settings`);
      // the per-workload expectation wins over the namespace's: api's JP is expected, its CN is not; BT is nowhere expected.
      assert.ok(fired(want2, 'UNEXPECTED_COUNTRY').some((r) => r.includes(' web/Deployment/api CN ')));
      assert.ok(!fired(want2, 'UNEXPECTED_COUNTRY').some((r) => r.includes(' web/Deployment/api JP ')));
      assert.ok(fired(want2, 'UNEXPECTED_COUNTRY').some((r) => r.includes(`${rec} BT`)));
      assert.ok(lastDay(fired(want2, 'NEW_COUNTRY'), 'web/Deployment/api').length > 0, 'api: a trickle baseline does not make its partners known');
      if (fired(want2, 'VOLUME_SPIKE').length === 0) {
        // 4. A floor and ratio the simulated diurnal load crosses.
        const spiky: Settings = { ...edited, spike_ratio: 1.01, spike_min_bytes: MiB };
        await setSettings(spiky);
        const got3 = await flagged();
        const want3 = truth(spiky, expected);
        assert.deepEqual(got3, want3);
        await assertSameAsReference(store, start, 'spiky');
        assert.ok(fired(want3, 'VOLUME_SPIKE').length > 0, 'VOLUME_SPIKE fires with a low ratio and floor');
      }
      // 5. Settings the truth above does not vary: every baseline window, no and long learning, an
      //    expectation that holds everything but one country, a port turned off: still the reference's rows.
      for (const [label, s] of [
        ['baseline 1 day', { baseline_days: 1 }],
        ['baseline 3 days', { baseline_days: 3 }],
        ['baseline 14 days, no learning', { baseline_days: 14, learning_hours: 0 }],
        ['baseline 30 days, 100 learning hours', { baseline_days: 30, learning_hours: 100 }],
        ['baseline 2 days (1), 1 MiB floors', { baseline_days: 2, learning_hours: 24, new_country_min_bytes: MiB, new_asn_min_bytes: MiB, baseline_min_bytes: 4 * MiB }],
      ] as const) {
        await setSettings(s);
        await assertSameAsReference(store, start, label);
      }
      await sql(`INSERT INTO tollgate.expected_countries (namespace, workload, countries) VALUES ('shop', 'recommender', ['BT'])`);
      await sql(`INSERT INTO tollgate.suspicious_ports (port, label, enabled) VALUES (3333, 'off', false)`);
      await assertSameAsReference(store, start, 'recommender expects BT, 3333 off');
    } finally {
      await store.close();
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});
