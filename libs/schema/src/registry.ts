// Avro single-object encoding over the schemas kept in `schemas/` (the contract).
//
//   C3 01 | CRC-64-AVRO fingerprint of the writer schema (8 bytes, little-endian) | Avro binary body
//
// Every `schemas/<family>/v<N>.avsc` is a known writer; the highest version of a family is
// its reader. A reader resolves any known writer version of its own family, so a newer
// consumer reads what older producers wrote, without a registry service.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import avro from 'avsc';
import { crc64Avro, fingerprintBytes } from './crc64.ts';

export const DEFAULT_SCHEMA_DIR = fileURLToPath(new URL('../../../schemas/', import.meta.url));

const MARKER0 = 0xc3;
const MARKER1 = 0x01;
const HEADER = 10;

export type DecodeFailure = 'bad-marker' | 'unknown-schema' | 'wrong-family' | 'malformed-body';

/** A message that can never be decoded (a poison record): it belongs in the DLQ, with `reason`. */
export class DecodeError extends Error {
  readonly permanent = true;
  readonly failure: DecodeFailure;
  constructor(failure: DecodeFailure, message: string) {
    super(message);
    this.name = 'DecodeError';
    this.failure = failure;
  }
}

interface Writer {
  family: string;
  version: number;
  fingerprint: bigint;
  type: avro.Type;
}

export interface Codec<T> {
  readonly family: string;
  readonly version: number;
  readonly fingerprint: bigint;
  /** The reader (newest) schema as parsed by avsc. */
  readonly type: avro.Type;
  encode(value: T): Buffer;
  decode(message: Buffer): T;
}

/** The fingerprint a message claims, or undefined if it is not single-object encoded. */
export function messageFingerprint(message: Buffer): bigint | undefined {
  if (message.length < HEADER || message[0] !== MARKER0 || message[1] !== MARKER1) return undefined;
  return message.readBigUInt64LE(2);
}

export class SchemaRegistry {
  readonly dir: string;
  private readonly writers = new Map<bigint, Writer>();
  private readonly readers = new Map<string, Writer>();
  private readonly codecs = new Map<string, Codec<unknown>>();

  private constructor(dir: string) {
    this.dir = dir;
  }

  /** Reads every `<family>/v<N>.avsc` below `dir`; throws on an unparsable schema. */
  static load(dir: string = DEFAULT_SCHEMA_DIR): SchemaRegistry {
    const reg = new SchemaRegistry(dir);
    for (const family of readdirSync(dir, { withFileTypes: true })) {
      if (!family.isDirectory()) continue;
      for (const file of readdirSync(join(dir, family.name))) {
        const m = /^v(\d+)\.avsc$/.exec(file);
        if (!m) continue;
        const path = join(dir, family.name, file);
        let type: avro.Type;
        try {
          type = avro.Type.forSchema(JSON.parse(readFileSync(path, 'utf8')) as avro.Schema);
        } catch (err) {
          throw new Error(`schema ${path} is not a valid Avro schema: ${(err as Error).message}`);
        }
        const w: Writer = { family: family.name, version: Number(m[1]), fingerprint: crc64Avro(JSON.stringify(type.schema())), type };
        reg.writers.set(w.fingerprint, w);
        const cur = reg.readers.get(w.family);
        if (!cur || cur.version < w.version) reg.readers.set(w.family, w);
      }
    }
    return reg;
  }

  families(): string[] {
    return [...this.readers.keys()].sort();
  }

  /** Encoder/decoder for `family`, reading with its newest version. */
  codec<T>(family: string): Codec<T> {
    const cached = this.codecs.get(family);
    if (cached) return cached as Codec<T>;
    const reader = this.readers.get(family);
    if (!reader) throw new Error(`no schema family '${family}' in ${this.dir} (have: ${this.families().join(', ')})`);
    const codec = this.makeCodec<T>(reader);
    this.codecs.set(family, codec as Codec<unknown>);
    return codec;
  }

  /** A codec that writes with a specific version (for producers pinned to an older contract, and tests). */
  writerCodec<T>(family: string, version: number): Codec<T> {
    const w = [...this.writers.values()].find((x) => x.family === family && x.version === version);
    if (!w) throw new Error(`no schema ${family}/v${version}.avsc in ${this.dir}`);
    return this.makeCodec<T>(w);
  }

  private makeCodec<T>(reader: Writer): Codec<T> {
    const header = Buffer.concat([Buffer.from([MARKER0, MARKER1]), fingerprintBytes(reader.fingerprint)]);
    const resolvers = new Map<bigint, avro.Resolver | null>();
    const writers = this.writers;
    let scratch = Buffer.allocUnsafe(1 << 16);
    header.copy(scratch);
    return {
      family: reader.family,
      version: reader.version,
      fingerprint: reader.fingerprint,
      type: reader.type,
      encode(value: T): Buffer {
        for (;;) {
          const end = reader.type.encode(value, scratch, HEADER);
          if (end > 0) return Buffer.from(scratch.subarray(0, end));
          scratch = Buffer.allocUnsafe(Math.max(scratch.length * 2, scratch.length - end + HEADER));
          header.copy(scratch);
        }
      },
      decode(message: Buffer): T {
        const fp = messageFingerprint(message);
        if (fp === undefined) throw new DecodeError('bad-marker', 'not an Avro single-object message (no C3 01 marker)');
        let resolver = resolvers.get(fp);
        if (resolver === undefined) {
          const w = writers.get(fp);
          if (!w) throw new DecodeError('unknown-schema', `unknown writer schema fingerprint ${fp.toString(16).padStart(16, '0')}`);
          if (w.family !== reader.family) {
            throw new DecodeError('wrong-family', `message is ${w.family}/v${w.version}, expected ${reader.family}`);
          }
          resolver = w.fingerprint === reader.fingerprint ? null : reader.type.createResolver(w.type);
          resolvers.set(fp, resolver);
        }
        try {
          return (resolver ? reader.type.fromBuffer(message.subarray(HEADER), resolver) : reader.type.fromBuffer(message.subarray(HEADER))) as T;
        } catch (err) {
          throw new DecodeError('malformed-body', `cannot decode ${reader.family} body: ${(err as Error).message}`);
        }
      },
    };
  }
}
