// Generates from the `flows` definition (flows-table.ts):
//   - rows.generated.ts (the row type, column orders, the row builder and the sink's encoder);
//   - a migration adding the columns that the applied migrations lack (ALTER TABLE ... ADD COLUMN).
// `npm run schemas:gen` runs it; a test fails when rows.generated.ts is stale or when the
// migrations' flows / rollup_input columns differ from the definition.
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { InsertFormat } from './text-format.ts';
import { columnDdl, FLOW_TABLE, ROLLUP_WEIGHT, rollupColumns, tsType, type FlowColumn, type Scope } from './flows-table.ts';

export const GENERATED_ROWS_FILE = fileURLToPath(new URL('./rows.generated.ts', import.meta.url));
const MIGRATIONS_DIR = fileURLToPath(new URL('../../../infra/clickhouse/', import.meta.url));

const uses = (expr: string, v: string): boolean => new RegExp(`\\b${v}\\.`).test(expr);

function check(cols: readonly FlowColumn[]): void {
  const seen = new Set<string>();
  for (const c of cols) {
    if (!/^[a-z_][a-z0-9_]*$/.test(c.name)) throw new Error(`flows-table: bad column name ${c.name}`);
    if (seen.has(c.name)) throw new Error(`flows-table: column ${c.name} twice`);
    seen.add(c.name);
    tsType(c.type);
    const widest: Scope = uses(c.from, 'f') ? 'flow' : uses(c.from, 'l') ? 'local' : uses(c.from, 'r') ? 'remote' : 'batch';
    if (widest !== c.scope) throw new Error(`flows-table: column ${c.name} reads ${widest} values, declared scope ${c.scope}`);
    if (c.scope === 'flow' || c.scope === 'batch') continue;
    if (uses(c.from, c.scope === 'local' ? 'r' : 'l')) throw new Error(`flows-table: column ${c.name} mixes both endpoints`);
  }
}

/** Consecutive columns of one scope (batch / local / remote) are written as one precomputed segment. */
interface Run {
  scope: Scope;
  cols: FlowColumn[];
}

function runs(cols: readonly FlowColumn[]): Run[] {
  const out: Run[] = [];
  for (const c of cols) {
    const last = out[out.length - 1];
    if (last && last.scope === c.scope && c.scope !== 'flow' && last.cols[0]!.rollupAs === c.rollupAs) last.cols.push(c);
    else out.push({ scope: c.scope, cols: [c] });
  }
  return out;
}

/** rollup_input's insert order: the grouping and destination columns (table order), the sums, the weight. */
export function rollupInsertColumns(cols: readonly FlowColumn[]): FlowColumn[] {
  const rollup = cols.filter((c) => c.rollup);
  return [...rollup.filter((c) => c.rollupAs !== 'sum'), ...rollup.filter((c) => c.rollupAs === 'sum'), ROLLUP_WEIGHT];
}

/** A column's value on a row that does not keep it (rollupAs 'destination'): its type's empty value. */
function emptyValue(c: FlowColumn): string {
  const t = tsType(c.type);
  if (t === 'number') return '0';
  if (t === 'boolean') return 'false';
  if (t === 'Record<string, string>') return '{}';
  return c.type === 'IPv6' ? "'::'" : "''";
}

/**
 * The format the sink inserts `flows` and `rollup_input` rows in. TabSeparated: chDB parsed it in
 * about 60% of JSONCompactEachRow's time, CSV about the same as TabSeparated
 * (`TOLLGATE_BENCH_SECTIONS=formats npm run bench` measures the three in one run; README "Benchmarks").
 */
export const INSERT_FORMAT: InsertFormat = 'TabSeparated';

/** How the generated code writes one format (the escaping itself is in text-format.ts). */
interface FormatSpec {
  /** Around a row's values, and between them (source text inside a template literal). */
  open: string;
  close: string;
  sep: string;
  /** The function that writes a String value, and a Map(String, String). */
  string: string;
  map: string;
  /** Around a symbol (an Avro enum's identifier, which needs no escaping). */
  symbol: string;
  /** What the generated code imports from text-format.ts. */
  helpers: string[];
}

const FORMATS: Record<InsertFormat, FormatSpec> = {
  JSONCompactEachRow: { open: '[', close: ']', sep: ',', string: 'JSON.stringify', map: 'JSON.stringify', symbol: '"', helpers: [] },
  TabSeparated: { open: '', close: '', sep: '\\t', string: 'tsvString', map: 'mapText', symbol: '', helpers: ['tsvString', 'mapText'] },
  CSV: { open: '', close: '', sep: ',', string: 'csvString', map: 'csvMap', symbol: '', helpers: ['csvString', 'csvMap'] },
};

/**
 * One value as a piece of a template literal. `hot`: in the per-flow loop, where a symbol is
 * written as it is and other strings go through the per-message memo `q`.
 */
function piece(fmt: FormatSpec, c: FlowColumn, expr: string, hot: boolean): string {
  const t = tsType(c.type);
  if (t === 'number' || t === 'boolean') return `\${${expr}}`;
  if (t === 'Record<string, string>') return `\${${fmt.map}(${expr})}`;
  if (hot && c.symbol) return `${fmt.symbol}\${${expr}}${fmt.symbol}`;
  return hot ? `\${q(${expr})}` : `\${${fmt.string}(${expr})}`;
}

/** A row of `cols` from a FlowRow `r`, as a template literal. */
function rowTemplate(fmt: FormatSpec, cols: readonly FlowColumn[], tail = ''): string {
  return `\`${fmt.open}${cols.map((c) => piece(fmt, c, `r.${c.name}`, false)).join(fmt.sep)}${tail}${fmt.close}\``;
}

export interface GenerateOptions {
  format?: InsertFormat;
  /** The generated module's import specifiers (default: as written, for a file beside this one). */
  resolve?: (specifier: string) => string;
}

export function generateRows(cols: readonly FlowColumn[] = FLOW_TABLE, o: GenerateOptions = {}): string {
  check(cols);
  const format = o.format ?? INSERT_FORMAT;
  const fmt = FORMATS[format];
  const imp = o.resolve ?? ((spec: string) => spec);
  const rollup = cols.filter((c) => c.rollup);
  const out: string[] = [
    '// Generated from libs/clickhouse/src/flows-table.ts by libs/clickhouse/src/codegen.ts (npm run schemas:gen). Do not edit.',
    `import { PermanentError } from '${imp('@tollgate/pipeline')}';`,
    "import type { EnrichedFlowBatch } from '@tollgate/schema';",
    `import { ip, isDestinationRow, lowerClass, pricedAs } from '${imp('./flows-table.ts')}';`,
    ...(fmt.helpers.length > 0 ? [`import { ${fmt.helpers.join(', ')} } from '${imp('./text-format.ts')}';`] : []),
    '',
    '/** The format of every RowBlock (the insert names it). */',
    `export const ROW_FORMAT = '${format}' as const;`,
    '',
    '/** Kafka coordinates of the flows.enriched.v1 message a row came from. */',
    'export interface SourceCoordinates {',
    '  topic: string;',
    '  partition: number;',
    '  offset: number;',
    '}',
    '',
    `/** Rows ready for an insert: ${format} lines in FLOW_COLUMNS (or ROLLUP_COLUMNS) order, each ending in a newline. */`,
    'export interface RowBlock {',
    '  body: string;',
    '  rows: number;',
    '}',
    '',
    '/** One row of the `flows` table. */',
    'export interface FlowRow {',
  ];
  for (const c of cols) {
    out.push(`  /** ${c.type}: ${c.from}${c.doc ? `. ${c.doc}` : ''} */`);
    out.push(`  ${c.name}: ${tsType(c.type)};`);
  }
  out.push('}', '');
  out.push('/** Column order of the insert (every FlowRow key). */');
  out.push(`export const FLOW_COLUMNS = [${cols.map((c) => `'${c.name}'`).join(', ')}] as const satisfies ReadonlyArray<keyof FlowRow>;`, '');
  out.push('/** The columns of rollup_input, which feeds the hourly rollups. */');
  out.push(`export const ROLLUP_COLUMNS = [${rollup.map((c) => `'${c.name}'`).join(', ')}] as const satisfies ReadonlyArray<keyof FlowRow>;`, '');
  out.push('/** Column order of a rollup_input insert: the grouping columns, the sums, the weight (`flows`). */');
  out.push(`export const ROLLUP_INSERT_COLUMNS = [${rollupInsertColumns(cols).map((c) => `'${c.name}'`).join(', ')}] as const;`, '');
  out.push(
    'function outside(i: number, n: number): PermanentError {',
    "  return new PermanentError(`flow ${i} refers to an endpoint outside the batch's ${n}`);",
    '}',
    '',
  );

  // toFlowRows: one object per flow.
  out.push('/** The rows of one flows.enriched.v1 message. */');
  out.push('export function toFlowRows(b: EnrichedFlowBatch, src: SourceCoordinates): FlowRow[] {');
  out.push('  const eps = b.endpoints;');
  out.push('  return b.flows.map((f, i) => {');
  out.push('    const l = eps[f.local];');
  out.push('    const r = eps[f.remote];');
  out.push('    if (l === undefined || r === undefined) throw outside(i, eps.length);');
  out.push('    return {');
  for (const c of cols) out.push(`      ${c.name}: ${c.from},`);
  out.push('    };');
  out.push('  });');
  out.push('}', '');

  // One hand-made row (tests, tools) as a line of each table.
  out.push(`/** A flows row as one ${format} line (FLOW_COLUMNS order, no newline). */`);
  out.push(`export function formatFlowRow(r: FlowRow): string {`, `  return ${rowTemplate(fmt, cols)};`, '}', '');
  out.push(`/** A flows row as one rollup_input ${format} line of weight 1 (ROLLUP_INSERT_COLUMNS order, no newline). */`);
  const insertCols = rollupInsertColumns(cols);
  out.push(`export function formatRollupRow(r: FlowRow): string {`, `  return ${rowTemplate(fmt, insertCols.slice(0, -1), `${fmt.sep}1`)};`, '}', '');

  // The text encoders: flows rows (a format's own test and bench), and the sink's rollup_input rows.
  out.push(...encoder(cols, rollup, fmt, format));
  // The flows rows as columns: what the store inserts (columnar.ts: Arrow for chDB, text for a server).
  out.push(...columnar(cols));
  return out.join('\n');
}

/**
 * FlowColumns, flowColumns (one message's flows rows as one array per column, no text) and
 * columnsOf (hand-made rows). A batch's value is computed once per message; the others per flow.
 */
function columnar(cols: readonly FlowColumn[]): string[] {
  const out: string[] = [];
  const v = (c: FlowColumn) => `c_${c.name}`;
  out.push('/** Rows of `flows` as one array per column (each `rows` long): what the store inserts (columnar.ts). */');
  out.push('export interface FlowColumns {');
  out.push('  rows: number;');
  out.push('  values: { [K in keyof FlowRow]: Array<FlowRow[K]> };');
  out.push('}', '');
  out.push('/** The flows rows of one flows.enriched.v1 message, as columns. */');
  out.push('export function flowColumns(b: EnrichedFlowBatch, src: SourceCoordinates): FlowColumns {');
  out.push('  const eps = b.endpoints;');
  out.push('  const n = b.flows.length;');
  if (!cols.some((c) => c.scope === 'batch' && uses(c.from, 'src'))) out.push('  void src;');
  for (const c of cols) {
    if (c.scope === 'batch') out.push(`  const ${v(c)} = new Array<${tsType(c.type)}>(n).fill(${c.from});`);
    else out.push(`  const ${v(c)} = new Array<${tsType(c.type)}>(n);`);
  }
  out.push('  for (let i = 0; i < n; i++) {');
  out.push('    const f = b.flows[i]!;');
  out.push('    const l = eps[f.local];');
  out.push('    const r = eps[f.remote];');
  out.push('    if (l === undefined || r === undefined) throw outside(i, eps.length);');
  for (const c of cols) if (c.scope !== 'batch') out.push(`    ${v(c)}[i] = ${c.from};`);
  out.push('  }');
  out.push(`  return { rows: n, values: { ${cols.map((c) => `${c.name}: ${v(c)}`).join(', ')} } };`);
  out.push('}', '');
  out.push('/** Hand-made rows (tests, tools) as columns. */');
  out.push('export function columnsOf(rows: readonly FlowRow[]): FlowColumns {');
  out.push(`  return { rows: rows.length, values: { ${cols.map((c) => `${c.name}: rows.map((r) => r.${c.name})`).join(', ')} } };`);
  out.push('}', '');
  return out;
}

/** One table's rows in an encoder: its runs of columns and the name of their precomputed segments. */
interface Target {
  name: string;
  runs: Run[];
  /** Folded (rollup_input): the runs are the grouping key; these columns are summed, then the weight. */
  sums?: FlowColumn[];
}

/**
 * encodeFlowRows (flows) and encodeRollupRows (rollup_input), straight from the decoded record
 * into the insert format (no row objects in between): a batch's columns are written once per
 * message, an endpoint's once per endpoint, strings once per distinct value. encodeRollupRows folds
 * the message's rollup_input rows: one per distinct key (the rollup columns but the sums, the
 * destination columns empty on other rows, the time to the hour), with the sums and the weight.
 */
function encoder(cols: readonly FlowColumn[], rollup: readonly FlowColumn[], fmt: FormatSpec, format: InsertFormat): string[] {
  const out: string[] = [];
  const value = (c: FlowColumn, t: Target) => (t.sums && c.rollupFrom) || c.from;
  const segment = (r: Run, t: Target, empty = false) => `\`${r.cols.map((c) => piece(fmt, c, empty ? emptyValue(c) : value(c, t), false)).join(fmt.sep)}\``;
  const isDest = (r: Run) => r.cols[0]!.rollupAs === 'destination';
  const emit = (fn: string, targets: Target[], doc: string, ret: string, result: string) => {
    const all = targets.flatMap((t) => [...t.runs.flatMap((r) => r.cols), ...(t.sums ?? [])]);
    const flowUses = (v: string) => all.some((c) => c.scope === 'flow' && (uses(c.from, v) || uses(c.rollupFrom ?? '', v)));
    const seg = (t: Target, i: number) => `${t.name}${i}`;
    out.push(`/** ${doc} */`);
    out.push(`export function ${fn}(b: EnrichedFlowBatch, src: SourceCoordinates): ${ret} {`);
    out.push('  const eps = b.endpoints;');
    if (targets.some((t) => t.sums)) {
      // The fold's key: a small number per distinct string of the message (never its text: no separator to escape).
      out.push('  const ids = new Map<string, number>();');
      out.push('  const id = (s: string): number => {');
      out.push('    let v = ids.get(s);');
      out.push('    if (v === undefined) ids.set(s, (v = ids.size));');
      out.push('    return v;');
      out.push('  };');
    }
    const epRuns = targets.flatMap((t) => t.runs.map((r, i) => ({ t, r, i })).filter(({ r }) => r.scope === 'local' || r.scope === 'remote'));
    for (const { t, i } of epRuns) out.push(`  const ${seg(t, i)} = new Array<string>(eps.length);`);
    // A folded target keys an endpoint's segment by its text's id: two pods of one workload fold.
    for (const { t, i } of epRuns) if (t.sums) out.push(`  const ${seg(t, i)}Id = new Array<number>(eps.length);`);
    if (epRuns.length > 0) {
      out.push('  for (let k = 0; k < eps.length; k++) {');
      if (epRuns.some(({ r }) => r.scope === 'local')) out.push('    const l = eps[k]!;');
      if (epRuns.some(({ r }) => r.scope === 'remote')) out.push('    const r = eps[k]!;');
      for (const { t, r, i } of epRuns) {
        out.push(`    ${seg(t, i)}[k] = ${segment(r, t)};`);
        if (t.sums) out.push(`    ${seg(t, i)}Id[k] = id(${seg(t, i)}[k]!);`);
      }
      out.push('  }');
    }
    for (const t of targets) {
      t.runs.forEach((r, i) => {
        if (r.scope === 'batch') out.push(`  const ${seg(t, i)} = ${segment(r, t)};`);
        if (t.sums && isDest(r)) out.push(`  const ${seg(t, i)}Empty = ${segment(r, t, true)};`);
      });
    }
    if (!all.some((c) => c.scope === 'batch' && uses(c.from, 'src'))) out.push('  void src;');
    if (all.some((c) => c.scope === 'flow' && tsType(c.type) === 'string' && !c.symbol)) {
      out.push('  const strings = new Map<string, string>();');
      out.push('  const q = (s: string): string => {');
      out.push('    let v = strings.get(s);');
      out.push(`    if (v === undefined) strings.set(s, (v = ${fmt.string}(s)));`);
      out.push('    return v;');
      out.push('  };');
    }
    for (const t of targets) {
      if (t.sums) {
        out.push(`  // ${t.name}: key -> [${t.sums.map((c) => c.name).join(', ')}, flows]`);
        const tuple = `{ row: string; a: [${new Array(t.sums.length + 1).fill('number').join(', ')}] }`;
        out.push(`  const ${t.name}Folded = new Map<string, ${tuple}>();`);
        out.push(`  const ${t.name}Lines: string[] = [];`);
        const sums = [...t.sums.map((_, k) => `\${a[${k}]}`), `\${a[${t.sums.length}]}`].join(fmt.sep);
        out.push(`  const ${t.name}Line = ({ row, a }: ${tuple}) => \`\${row}${fmt.sep}${sums}${fmt.close}\`;`);
      } else out.push(`  const ${t.name}Lines = new Array<string>(b.flows.length + 1);`);
    }
    out.push('  for (let i = 0; i < b.flows.length; i++) {');
    out.push('    const f = b.flows[i]!;');
    out.push('    if (eps[f.local] === undefined || eps[f.remote] === undefined) throw outside(i, eps.length);');
    if (flowUses('l')) out.push('    const l = eps[f.local]!;');
    if (flowUses('r')) out.push('    const r = eps[f.remote]!;');
    // A flow's value that two targets write (or one writes and the fold keys on: pricedAs, ip,
    // ...) is computed once per flow; a plain field read is left where it is.
    const uses2 = new Map<string, number>();
    for (const t of targets) for (const r of t.runs) if (r.scope === 'flow') uses2.set(value(r.cols[0]!, t), (uses2.get(value(r.cols[0]!, t)) ?? 0) + 1);
    const hoisted = new Map<string, string>();
    for (const [e, n] of uses2) if (n > 1 && !/^f\.\w+$/.test(e)) hoisted.set(e, `v${hoisted.size}`);
    for (const [e, name] of hoisted) out.push(`    const ${name} = ${e};`);
    const ex = (c: FlowColumn, t: Target) => hoisted.get(value(c, t)) ?? value(c, t);
    for (const t of targets) {
      const parts = t.runs.map((r, i) => {
        if (r.scope === 'batch') return `\${${seg(t, i)}}`;
        const v = r.scope === 'local' ? `${seg(t, i)}[f.local]` : r.scope === 'remote' ? `${seg(t, i)}[f.remote]` : undefined;
        if (t.sums && isDest(r)) {
          const c = r.cols[0]!;
          return `\${dest ? ${v ?? `\`${piece(fmt, c, ex(c, t), true)}\``} : ${seg(t, i)}Empty}`;
        }
        if (v) return `\${${v}}`;
        return piece(fmt, r.cols[0]!, ex(r.cols[0]!, t), true);
      });
      if (!t.sums) {
        out.push(`    ${t.name}Lines[i] = \`${fmt.open}${parts.join(fmt.sep)}${fmt.close}\`;`);
        continue;
      }
      // The key: the endpoints by index, the other values as they are (strings by id); a batch's
      // values are the message's; the destination columns -1 on other rows. The row's text is
      // written once, for its first flow. A sum that would pass 2^53 (exact in a double) closes
      // the row: the next one starts at 0.
      const keyParts = t.runs.flatMap((r, i) => {
        if (r.scope === 'batch') return [];
        const wrap = (x: string) => (isDest(r) ? `\${dest ? ${x} : -1}` : `\${${x}}`);
        if (r.scope === 'local') return [wrap(`${seg(t, i)}Id[f.local]`)];
        if (r.scope === 'remote') return [wrap(`${seg(t, i)}Id[f.remote]`)];
        const c = r.cols[0]!;
        const ty = tsType(c.type);
        if (ty === 'Record<string, string>') throw new Error(`codegen: a flow-scope Map column (${c.name}) cannot be a rollup key`);
        return [wrap(ty === 'string' && !c.symbol ? `id(${ex(c, t)})` : ex(c, t))];
      });
      const n = t.sums.length;
      out.push('    const dest = isDestinationRow(f.role, f.class);');
      out.push(`    const key = \`${keyParts.join(',')}\`;`);
      out.push(`    let fold = ${t.name}Folded.get(key);`);
      out.push(`    if (fold === undefined) ${t.name}Folded.set(key, (fold = { row: \`${fmt.open}${parts.join(fmt.sep)}\`, a: [${new Array(n + 1).fill('0').join(', ')}] }));`);
      out.push(`    else if (${t.sums.map((c, k) => `fold.a[${k}] + ${c.from} > Number.MAX_SAFE_INTEGER`).join(' || ')}) {`);
      out.push(`      ${t.name}Lines.push(${t.name}Line(fold));`);
      out.push('      fold.a.fill(0);');
      out.push('    }');
      out.push('    const a = fold.a;');
      t.sums.forEach((c, k) => out.push(`    a[${k}] += ${c.from};`));
      out.push(`    a[${n}]++;`);
    }
    out.push('  }');
    for (const t of targets) {
      if (t.sums) out.push(`  for (const fold of ${t.name}Folded.values()) ${t.name}Lines.push(${t.name}Line(fold));`, `  ${t.name}Lines.push('');`);
      else out.push(`  ${t.name}Lines[b.flows.length] = '';`);
    }
    out.push(`  return ${result};`);
    out.push('}', '');
  };
  const flows: Target = { name: 'flows', runs: runs(cols) };
  const roll: Target = { name: 'rollup', runs: runs(rollup.filter((c) => c.rollupAs !== 'sum')), sums: rollup.filter((c) => c.rollupAs === 'sum') };
  const block = (t: Target) => `{ body: ${t.name}Lines.join('\\n'), rows: ${t.sums ? `${t.name}Lines.length - 1` : 'b.flows.length'} }`;
  emit('encodeFlowRows', [flows], `The flows rows of one flows.enriched.v1 message (${format}, FLOW_COLUMNS order).`, 'RowBlock', block(flows));
  emit('encodeRollupRows', [roll], 'The rollup_input rows of one message, folded (ROLLUP_INSERT_COLUMNS order).', 'RowBlock', block(roll));
  return out;
}

export type RowsModule = typeof import('./rows.generated.ts');

/**
 * The generated module for another insert format than INSERT_FORMAT, loaded from a temporary
 * file (the bench's format comparison, the round-trip test of every format).
 */
export async function loadRowsModule(format: InsertFormat): Promise<RowsModule> {
  const here = new URL('./', import.meta.url);
  const code = generateRows(FLOW_TABLE, { format, resolve: (spec) => (spec.startsWith('./') ? new URL(spec, here).href : import.meta.resolve(spec)) });
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-rows-'));
  const file = join(dir, `rows-${format}.ts`);
  writeFileSync(file, code);
  try {
    return (await import(pathToFileURL(file).href)) as RowsModule;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---- The DDL the migrations apply, against the definition.

export interface AppliedColumn {
  name: string;
  ddl: string;
}

/** The columns of `table` as the migrations leave it: its CREATE TABLE, then every ALTER TABLE ... ADD COLUMN. */
export function appliedColumns(dir: string, table: string): AppliedColumn[] {
  const files = readdirSorted(dir);
  let cols: AppliedColumn[] | undefined;
  const add = new RegExp(`^ALTER TABLE (?:IF EXISTS )?\\{\\{db\\}\\}\\.${table} ADD COLUMN IF NOT EXISTS (\\w+) (.+?)(?: AFTER (\\w+))?;$`, 'gm');
  for (const file of files) {
    const sql = readFileSync(join(dir, file), 'utf8');
    const create = new RegExp(`CREATE TABLE IF NOT EXISTS \\{\\{db\\}\\}\\.${table}\\s*\\(\\n([\\s\\S]*?)\\n\\)`, 'm').exec(sql);
    if (create) {
      cols = [];
      for (const raw of create[1]!.split('\n')) {
        const line = raw.trim().replace(/,$/, '');
        if (line === '' || line.startsWith('--') || /^(INDEX|PROJECTION|CONSTRAINT) /.test(line)) continue;
        const m = /^(\w+) (.+)$/.exec(line);
        if (!m) throw new Error(`${file}: cannot read the ${table} column line ${JSON.stringify(raw)}`);
        cols.push({ name: m[1]!, ddl: `${m[1]} ${m[2]}` });
      }
    }
    for (const m of sql.matchAll(add)) {
      if (!cols) throw new Error(`${file}: ALTER of ${table} before its CREATE TABLE`);
      const col = { name: m[1]!, ddl: `${m[1]} ${m[2]}` };
      if (cols.some((c) => c.name === col.name)) continue;
      const after = m[3] ? cols.findIndex((c) => c.name === m[3]) : cols.length - 1;
      if (after < 0) throw new Error(`${file}: ADD COLUMN ${col.name} AFTER unknown column ${m[3]}`);
      cols.splice(after + 1, 0, col);
    }
  }
  if (!cols) throw new Error(`no migration in ${dir} creates ${table}`);
  return cols;
}

function readdirSorted(dir: string): string[] {
  return readdirSync(dir).filter((f) => /^\d{4}_[a-z0-9_]+\.sql$/.test(f)).sort();
}

export interface SchemaDrift {
  table: string;
  /** Columns the definition has and the migrations do not: what a generated migration adds. */
  missing: { column: FlowColumn; after: string }[];
  /** Differences a generated ADD COLUMN cannot fix (a changed type, a removed or reordered column). */
  conflicts: string[];
}

/**
 * How the migrations' `table` differs from `want`; `ordered`: the column order must match too
 * (inserts name their columns, so order is only for a DDL that reads like the definition).
 */
export function drift(table: string, want: readonly Pick<FlowColumn, 'name' | 'type' | 'codec'>[], ordered: boolean, dir = MIGRATIONS_DIR): SchemaDrift {
  const have = appliedColumns(dir, table);
  const out: SchemaDrift = { table, missing: [], conflicts: [] };
  const haveByName = new Map(have.map((c) => [c.name, c]));
  const wantNames = new Set(want.map((c) => c.name));
  for (const c of have) if (!wantNames.has(c.name)) out.conflicts.push(`${table}.${c.name} is in the migrations, not in flows-table.ts (dropping a column needs a hand-written migration)`);
  let prev = '';
  const kept: string[] = [];
  for (const c of want) {
    const h = haveByName.get(c.name);
    if (!h) out.missing.push({ column: c as FlowColumn, after: prev });
    else {
      if (h.ddl !== columnDdl(c)) out.conflicts.push(`${table}.${c.name}: the migrations say '${h.ddl}', flows-table.ts '${columnDdl(c)}'`);
      kept.push(c.name);
    }
    prev = c.name;
  }
  const haveOrder = have.map((c) => c.name).filter((n) => wantNames.has(n));
  if (ordered && haveOrder.join() !== kept.join()) out.conflicts.push(`${table}: column order differs (migrations: ${haveOrder.join(', ')})`);
  return out;
}

/** The statements that bring the migrations' tables to the definition (empty when none is missing). */
export function migrationFor(drifts: readonly SchemaDrift[]): string {
  const lines: string[] = [];
  for (const d of drifts) {
    for (const m of d.missing) {
      // ClickHouse has no ALTER TABLE IF EXISTS; ADD COLUMN IF NOT EXISTS makes a replay harmless.
      lines.push(`ALTER TABLE {{db}}.${d.table} ADD COLUMN IF NOT EXISTS ${columnDdl(m.column)}${m.after ? ` AFTER ${m.after}` : ''};`);
    }
  }
  if (lines.length === 0) return '';
  return [
    '-- Generated from libs/clickhouse/src/flows-table.ts by libs/clickhouse/src/codegen.ts (npm run schemas:gen).',
    '-- Columns the definition gained after the earlier migrations were applied.',
    ...lines,
    '',
  ].join('\n');
}

export function schemaDrifts(dir = MIGRATIONS_DIR): SchemaDrift[] {
  return [drift('flows', FLOW_TABLE, true, dir), drift('rollup_input', rollupColumns(), false, dir)];
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  writeFileSync(GENERATED_ROWS_FILE, generateRows());
  console.log(`wrote ${GENERATED_ROWS_FILE}`);
  const drifts = schemaDrifts();
  const conflicts = drifts.flatMap((d) => d.conflicts);
  if (conflicts.length > 0) {
    console.error(`flows-table.ts and the migrations disagree in ways an added column cannot fix:\n  ${conflicts.join('\n  ')}`);
    process.exit(1);
  }
  const sql = migrationFor(drifts);
  if (sql) {
    const last = Math.max(...readdirSorted(MIGRATIONS_DIR).map((f) => Number(f.slice(0, 4))));
    const first = drifts.flatMap((d) => d.missing)[0]!.column.name;
    const file = join(MIGRATIONS_DIR, `${String(last + 1).padStart(4, '0')}_flows_add_${first}.sql`);
    writeFileSync(file, sql);
    console.log(`wrote ${file}`);
  }
}
