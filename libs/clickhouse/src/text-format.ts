// How a value is written in the text formats the sink can insert (the generated encoders in
// rows.generated.ts call these; libs/clickhouse/src/codegen.ts decides which, per column type).
// Both chDB's raw insert and a ClickHouse server (through @clickhouse/client) take all three.
//
//   TabSeparated  a String: backslash escapes for \ TAB LF CR NUL (ClickHouse's escaped form);
//                 a Map: its ClickHouse text {'k':'v'} with quoted literals, which hold no raw
//                 TAB or LF, read by the engine as they are (no second escaping).
//   CSV           a String: always in double quotes, a quote doubled; a Map: its text, as a CSV string.
//   JSONCompactEachRow  JSON.stringify.

/** Text formats both chDB's raw insert and a ClickHouse server take. */
export type InsertFormat = 'JSONCompactEachRow' | 'TabSeparated' | 'CSV';

const ESCAPES: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r', '\0': '\\0', "'": "\\'" };
const TSV_SPECIAL = /[\\\t\n\r\0]/;
const TSV_SPECIALS = /[\\\t\n\r\0]/g;
const QUOTED_SPECIALS = /[\\'\t\n\r\0]/g;
const escape = (c: string): string => ESCAPES[c]!;

/** A String value in TabSeparated. */
export function tsvString(s: string): string {
  return TSV_SPECIAL.test(s) ? s.replace(TSV_SPECIALS, escape) : s;
}

/** A ClickHouse quoted string literal ('...'), as inside a Map's or an Array's text. */
export function quoted(s: string): string {
  return `'${s.replace(QUOTED_SPECIALS, escape)}'`;
}

/** A Map(String, String) in ClickHouse's text form: {'k':'v',...}; TabSeparated takes it as it is. */
export function mapText(m: Readonly<Record<string, string>>): string {
  let out = '';
  for (const k in m) out += `${out ? ',' : ''}${quoted(k)}:${quoted(m[k]!)}`;
  return `{${out}}`;
}

/** A String value in CSV: quoted, so that no setting (trimming, empty as default) changes it. */
export function csvString(s: string): string {
  return `"${s.includes('"') ? s.replaceAll('"', '""') : s}"`;
}

/** A Map(String, String) in CSV: its text as a CSV string. */
export function csvMap(m: Readonly<Record<string, string>>): string {
  return csvString(mapText(m));
}
