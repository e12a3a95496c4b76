// How `flows` rows travel to the engine, from their columns (FlowColumns, rows.generated.ts):
//
//   embedded (chDB)  Arrow columns (the C Data Interface: typed buffers, UTF-8 strings with
//                    offsets), registered with chDB and read by `INSERT INTO flows ... SELECT ...
//                    FROM arrowstream(...)`: no text to parse. chDB parses text at 80-265 ns a
//                    field in one thread; it stores these columns in a third to a half of the
//                    time (README "Insert format").
//   server           ROW_FORMAT text (TabSeparated), as the rest of the sink's inserts.
//
// Each column's Arrow type and its SELECT expression follow its ClickHouse type in flows-table.ts:
// numbers by width, DateTime as UInt32 seconds, Bool as a bitmap, String and IPv6 as UTF-8 (the
// engine casts IPv6 text on insert), Map(String, String) as its JSON text, read by JSONExtract.
import { FLOW_TABLE } from './flows-table.ts';
import type { FlowColumns } from './rows.generated.ts';
import { mapText, tsvString } from './text-format.ts';

type Kind = 'utf8' | 'map' | 'u64' | 'u32' | 'u16' | 'u8' | 'bool';

function kindOf(type: string): Kind {
  if (type === 'String' || type === 'IPv6') return 'utf8';
  if (type === 'Map(String, String)') return 'map';
  if (type === 'UInt64') return 'u64';
  if (type === 'UInt32' || /^DateTime(\(.*\))?$/.test(type)) return 'u32';
  if (type === 'UInt16') return 'u16';
  if (type === 'UInt8') return 'u8';
  if (type === 'Bool') return 'bool';
  throw new Error(`columnar: no Arrow type for the ClickHouse type ${type}`);
}

/** Arrow C Data Interface format strings. */
const FORMAT: Record<Kind, string> = { utf8: 'u', map: 'u', u64: 'L', u32: 'I', u16: 'S', u8: 'C', bool: 'b' };

const SPECS = FLOW_TABLE.map((c) => ({ name: c.name, kind: kindOf(c.type), type: c.type }));

/** What the insert selects from the registered columns, in FLOW_COLUMNS order. */
export const ARROW_SELECT = SPECS.map((c) => (c.kind === 'map' ? `JSONExtract(${c.name}, '${c.type}') AS ${c.name}` : c.name)).join(', ');

/** One column as chDB's native Arrow registration takes it. */
export interface ArrowColumn {
  name: string;
  format: string;
  length: number;
  nullCount: number;
  /** [validity (null: all valid), data] or, for strings, [validity, int32 offsets, bytes]. */
  buffers: Array<Buffer | null>;
}

/**
 * UTF-8 strings with int32 offsets. Values repeat (a message's endpoints, a chunk's clusters and
 * classes): each distinct value is encoded once, then its bytes are copied per row.
 */
function utf8Column(name: string, parts: ReadonlyArray<ReadonlyArray<unknown>>, length: number, text?: (v: unknown) => string): ArrowColumn {
  const offsets = new Int32Array(length + 1);
  const encoded = new Map<unknown, Buffer>();
  let data = Buffer.allocUnsafe(Math.max(1024, length * 8));
  let pos = 0;
  let i = 0;
  let last: unknown;
  let b: Buffer = Buffer.alloc(0);
  for (let p = 0; p < parts.length; p++) {
    const values = parts[p]!;
    for (let k = 0; k < values.length; k++) {
      const v = values[k];
      // (Runs are common: a message's batch values, a pod's flows.)
      if (v !== last || k === 0) {
        let e = encoded.get(v);
        if (e === undefined) encoded.set(v, (e = Buffer.from(text ? text(v) : (v as string), 'utf8')));
        b = e;
        last = v;
      }
      const n = b.length;
      if (pos + n > data.length) {
        if (pos + n > 0x7fffffff) throw new Error(`columnar: column ${name} holds more than Arrow's 2 GiB per string column`);
        const grown = Buffer.allocUnsafe(Math.min(0x7fffffff, Math.max(data.length * 2, pos + n)));
        data.copy(grown, 0, 0, pos);
        data = grown;
      }
      offsets[i++] = pos;
      // (A short value is copied byte by byte: cheaper than a native call.)
      if (n <= 24) for (let c = 0; c < n; c++) data[pos + c] = b[c]!;
      else data.set(b, pos);
      pos += n;
    }
  }
  offsets[length] = pos;
  return { name, format: 'u', length, nullCount: 0, buffers: [null, Buffer.from(offsets.buffer, offsets.byteOffset, offsets.byteLength), data.subarray(0, pos)] };
}

/** A Map's JSON text (the cache in utf8Column keys it by the object: a message's flows share their endpoint's labels). */
const json = (v: unknown): string => JSON.stringify(v);

// Each number loop stores into one typed-array kind (u32, then narrowed natively for u16 and u8):
// one loop shared by three kinds is polymorphic; in a profile of 8 x 521,265 rows the number
// columns took 1.55 s that way and 0.98 s this way.
type Parts = ReadonlyArray<ReadonlyArray<unknown>>;
const column = (name: string, kind: Kind, length: number, data: Buffer): ArrowColumn => ({ name, format: FORMAT[kind], length, nullCount: 0, buffers: [null, data] });

function uintColumn(name: string, kind: 'u32' | 'u16' | 'u8', parts: Parts, length: number): ArrowColumn {
  const out = new Uint32Array(length);
  let i = 0;
  for (let p = 0; p < parts.length; p++) {
    const values = parts[p] as readonly number[];
    for (let k = 0; k < values.length; k++) out[i++] = values[k]!;
  }
  const data = kind === 'u32' ? out : kind === 'u16' ? new Uint16Array(out) : new Uint8Array(out);
  return column(name, kind, length, Buffer.from(data.buffer));
}

/** Two little-endian halves: exact for every integer a double holds (validated counters are below 2^63). */
function u64Column(name: string, parts: Parts, length: number): ArrowColumn {
  const words = new Uint32Array(length * 2);
  let i = 0;
  for (let p = 0; p < parts.length; p++) {
    const values = parts[p] as readonly number[];
    for (let k = 0; k < values.length; k++) {
      const x = values[k]!;
      if (x <= 0xffffffff) {
        words[i] = x;
      } else {
        words[i] = x % 4294967296;
        words[i + 1] = Math.floor(x / 4294967296);
      }
      i += 2;
    }
  }
  return column(name, 'u64', length, Buffer.from(words.buffer));
}

function boolColumn(name: string, parts: Parts, length: number): ArrowColumn {
  const bits = Buffer.alloc(Math.ceil(length / 8));
  let i = 0;
  for (let p = 0; p < parts.length; p++) {
    const values = parts[p]!;
    for (let k = 0; k < values.length; k++, i++) if (values[k]) bits[i >> 3]! |= 1 << (i & 7);
  }
  return column(name, 'bool', length, bits);
}

/** The blocks' rows (in order) as Arrow columns, FLOW_COLUMNS order. */
export function arrowColumns(blocks: readonly FlowColumns[]): ArrowColumn[] {
  let length = 0;
  for (const b of blocks) length += b.rows;
  return SPECS.map(({ name, kind }) => {
    const parts = blocks.map((b) => (b.values as unknown as Record<string, unknown[]>)[name]!);
    switch (kind) {
      case 'utf8':
        return utf8Column(name, parts, length);
      case 'map':
        return utf8Column(name, parts, length, json);
      case 'bool':
        return boolColumn(name, parts, length);
      case 'u64':
        return u64Column(name, parts, length);
      case 'u32':
      case 'u16':
      case 'u8':
        return uintColumn(name, kind, parts, length);
    }
  });
}

/** The blocks' rows as TabSeparated lines (FLOW_COLUMNS order, each ending in a newline): a server's insert. */
export function textRows(blocks: readonly FlowColumns[]): string {
  const lines: string[] = [];
  for (const b of blocks) {
    const cols = SPECS.map((c) => ({ kind: c.kind, values: (b.values as unknown as Record<string, unknown[]>)[c.name]! }));
    for (let i = 0; i < b.rows; i++) {
      let line = '';
      for (let j = 0; j < cols.length; j++) {
        const { kind, values } = cols[j]!;
        const v = values[i];
        const text = kind === 'utf8' ? tsvString(v as string) : kind === 'map' ? mapText(v as Record<string, string>) : String(v);
        line += j === 0 ? text : `\t${text}`;
      }
      lines.push(line);
    }
  }
  lines.push('');
  return lines.join('\n');
}
