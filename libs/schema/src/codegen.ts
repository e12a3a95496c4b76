// Derives TypeScript types from the newest version of each schema in `schemas/`.
// `npm run schemas:gen` rewrites types.generated.ts; a test fails when it is stale.
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { SchemaRegistry } from './registry.ts';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type Obj = { [k: string]: Json };

const PRIMS: Record<string, string> = {
  null: 'null', boolean: 'boolean', int: 'number', long: 'number', float: 'number', double: 'number', bytes: 'Buffer', string: 'string',
};

export const GENERATED_FILE = fileURLToPath(new URL('./types.generated.ts', import.meta.url));

export function generateTypes(reg: SchemaRegistry): string {
  const out: string[] = [
    '// Generated from schemas/*/v<N>.avsc by libs/schema/src/codegen.ts (npm run schemas:gen). Do not edit.',
    '',
  ];
  const emitted = new Set<string>();
  const emit = (schema: Json): string => {
    if (typeof schema === 'string') return PRIMS[schema] ?? schema.split('.').pop()!;
    if (Array.isArray(schema)) return schema.map(emit).join(' | ');
    if (schema === null || typeof schema !== 'object') throw new Error(`unsupported schema ${JSON.stringify(schema)}`);
    const s = schema as Obj;
    switch (s.type) {
      case 'record': {
        const name = String(s.name).split('.').pop()!;
        if (!emitted.has(name)) {
          emitted.add(name);
          const lines = (s.fields as Obj[]).map((f) => {
            const doc = f.doc ? `  /** ${String(f.doc)} */\n` : '';
            return `${doc}  ${String(f.name)}: ${emit(f.type as Json)};`;
          });
          const doc = s.doc ? `/** ${String(s.doc)} */\n` : '';
          out.push(`${doc}export interface ${name} {\n${lines.join('\n')}\n}\n`);
        }
        return name;
      }
      case 'enum': {
        const name = String(s.name).split('.').pop()!;
        if (!emitted.has(name)) {
          emitted.add(name);
          out.push(`export type ${name} = ${(s.symbols as string[]).map((x) => `'${x}'`).join(' | ')};\n`);
          out.push(`export const ${name}Values = [${(s.symbols as string[]).map((x) => `'${x}'`).join(', ')}] as const;\n`);
        }
        return name;
      }
      case 'array':
        return `Array<${emit(s.items as Json)}>`;
      case 'map':
        return `Record<string, ${emit(s.values as Json)}>`;
      case 'fixed':
        return 'Buffer';
      default:
        return emit(s.type as Json);
    }
  };
  for (const family of reg.families()) {
    const codec = reg.codec(family);
    out.push(`// ${family}/v${codec.version}.avsc`);
    emit(codec.type.schema({ exportAttrs: true }) as Json);
  }
  return out.join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  writeFileSync(GENERATED_FILE, generateTypes(SchemaRegistry.load()));
  console.log(`wrote ${GENERATED_FILE}`);
}
