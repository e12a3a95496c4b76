// Versioned SQL migrations (infra/clickhouse/NNNN_<name>.sql), applied in order at start.
// `schema_migrations` records what was applied; every statement is itself idempotent
// (IF NOT EXISTS, CREATE OR REPLACE VIEW, seeds that insert only missing keys), so a
// migration that crashed half way is simply replayed.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ClickHouseClient } from '@clickhouse/client';
import type { Logger } from '@tollgate/log';

export const DEFAULT_MIGRATIONS_DIR = fileURLToPath(new URL('../../../infra/clickhouse/', import.meta.url));

export interface Migration {
  version: number;
  name: string;
  statements: string[];
}

/** Strips `--` comment lines and splits on `;` at the end of a line. */
export function splitStatements(sql: string): string[] {
  const body = sql
    .split('\n')
    .filter((l) => !/^\s*--/.test(l))
    .join('\n');
  return body
    .split(/;\s*$/m)
    .map((s) => s.trim())
    .filter(Boolean);
}

export function loadMigrations(dir: string, database: string): Migration[] {
  const out: Migration[] = [];
  const seen = new Set<number>();
  for (const file of readdirSync(dir).sort()) {
    const m = /^(\d{4})_([a-z0-9_]+)\.sql$/.exec(file);
    if (!m) continue;
    const version = Number(m[1]);
    if (seen.has(version)) throw new Error(`two migrations with version ${m[1]} in ${dir}`);
    seen.add(version);
    const sql = readFileSync(join(dir, file), 'utf8').replaceAll('{{db}}', `\`${database}\``);
    out.push({ version, name: file.replace(/\.sql$/, ''), statements: splitStatements(sql) });
  }
  return out;
}

/** Applies what is not applied yet; returns the names applied now. */
export async function runMigrations(client: ClickHouseClient, database: string, dir: string, logger: Logger): Promise<string[]> {
  const db = `\`${database}\``;
  await client.command({ query: `CREATE DATABASE IF NOT EXISTS ${db}` });
  await client.command({
    query: `CREATE TABLE IF NOT EXISTS ${db}.schema_migrations (version UInt32, name String, applied_at DateTime64(3, 'UTC') DEFAULT now64(3)) ENGINE = ReplacingMergeTree ORDER BY version`,
  });
  const rs = await client.query({ query: `SELECT DISTINCT version FROM ${db}.schema_migrations`, format: 'JSONEachRow' });
  const done = new Set((await rs.json<{ version: number }>()).map((r) => Number(r.version)));
  const applied: string[] = [];
  for (const m of loadMigrations(dir, database)) {
    if (done.has(m.version)) continue;
    logger.info({ migration: m.name, statements: m.statements.length }, 'applying ClickHouse migration');
    for (const [i, stmt] of m.statements.entries()) {
      try {
        await client.command({ query: stmt });
      } catch (err) {
        throw new Error(`migration ${m.name}, statement ${i + 1}: ${(err as Error).message}`, { cause: err });
      }
    }
    await client.insert({
      table: `${db}.schema_migrations`,
      values: [{ version: m.version, name: m.name }],
      format: 'JSONEachRow',
      // chDB keeps SET values in its session: clear a token a previous insert may have left.
      clickhouse_settings: { insert_deduplication_token: '' },
    });
    applied.push(m.name);
  }
  return applied;
}
