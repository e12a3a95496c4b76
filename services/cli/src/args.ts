// A small argument parser: `--name value`, `--name=value`, boolean `--flag`, and positionals.
// Unknown options are errors (a typo must not silently do something else).

export interface OptionSpec {
  name: string;
  /** 'string' takes a value; 'boolean' does not. */
  type: 'string' | 'boolean';
  help: string;
  default?: string;
}

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export interface Parsed {
  options: Record<string, string | boolean | undefined>;
  positionals: string[];
}

export function parseArgs(argv: string[], specs: OptionSpec[]): Parsed {
  const byName = new Map(specs.map((s) => [s.name, s]));
  const options: Parsed['options'] = {};
  const positionals: string[] = [];
  for (const s of specs) if (s.default !== undefined) options[s.name] = s.default;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (!a.startsWith('--')) {
      if (a === '-h') options.help = true;
      else positionals.push(a);
      continue;
    }
    const eq = a.indexOf('=');
    const name = eq > 0 ? a.slice(2, eq) : a.slice(2);
    const spec = byName.get(name);
    if (!spec) throw new UsageError(`unknown option --${name}`);
    if (spec.type === 'boolean') {
      if (eq > 0) throw new UsageError(`--${name} takes no value`);
      options[name] = true;
    } else {
      const v = eq > 0 ? a.slice(eq + 1) : argv[++i];
      if (v === undefined || (eq < 0 && v.startsWith('--'))) throw new UsageError(`--${name} needs a value`);
      options[name] = v;
    }
  }
  return { options, positionals };
}

export function usage(command: string, summary: string, specs: OptionSpec[], extra = ''): string {
  const rows = specs.map((s) => {
    const left = `  --${s.name}${s.type === 'string' ? ' <value>' : ''}`;
    const dflt = s.default !== undefined ? ` (default: ${s.default})` : '';
    return `${left.padEnd(28)} ${s.help}${dflt}`;
  });
  return `Usage: tollgate ${command} [options]\n\n${summary}\n\nOptions:\n${rows.join('\n')}\n${extra ? `\n${extra}\n` : ''}`;
}

/** Parses durations like 30m, 12h, 7d, or `all`. Returns ms, or undefined for all. */
export function parseDuration(v: string, option: string): number | undefined {
  if (v === 'all') return undefined;
  const m = /^(\d+)([smhd])$/.exec(v);
  if (!m) throw new UsageError(`--${option}: '${v}' is not a duration like 90m, 24h, 7d or all`);
  return Number(m[1]) * { s: 1e3, m: 6e4, h: 3.6e6, d: 8.64e7 }[m[2] as 's' | 'm' | 'h' | 'd'];
}

export function parsePositiveInt(v: string, option: string): number {
  if (!/^\d+$/.test(v) || Number(v) < 1) throw new UsageError(`--${option}: '${v}' is not a positive whole number`);
  return Number(v);
}
