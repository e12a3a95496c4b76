// Configuration: parsed once at start, from the environment, validated, with defaults.
// Nothing else in Tollgate reads process.env. A bad value ends the program with one
// message that names the setting (ConfigError), never a stack trace.

export class ConfigError extends Error {
  readonly setting: string;
  constructor(setting: string, message: string) {
    super(`${setting}: ${message}`);
    this.name = 'ConfigError';
    this.setting = setting;
  }
}

export interface Setting<T> {
  readonly name: string;
  readonly doc: string;
  /** Shown in docs; `undefined` means "required where it is used". */
  readonly defaultText: string;
  readonly secret: boolean;
  parse(raw: string | undefined): T;
}

type Parser<T> = (raw: string, name: string) => T;

function setting<T>(name: string, doc: string, dflt: T, parser: Parser<T>, opts: { secret?: boolean; defaultText?: string } = {}): Setting<T> {
  return {
    name,
    doc,
    secret: opts.secret ?? false,
    defaultText: opts.defaultText ?? (Array.isArray(dflt) ? dflt.join(',') : String(dflt)),
    parse(raw) {
      if (raw === undefined || raw.trim() === '') return dflt;
      return parser(raw.trim(), name);
    },
  };
}

export const str = (name: string, doc: string, dflt: string, opts?: { secret?: boolean; defaultText?: string }): Setting<string> =>
  setting(name, doc, dflt, (v) => v, opts);

export const int = (name: string, doc: string, dflt: number, min = 0, max = Number.MAX_SAFE_INTEGER): Setting<number> =>
  setting(name, doc, dflt, (v, n) => {
    if (!/^-?\d+$/.test(v)) throw new ConfigError(n, `'${v}' is not a whole number`);
    const x = Number(v);
    if (x < min || x > max) throw new ConfigError(n, `${x} is out of range (${min} to ${max})`);
    return x;
  });

export const bool = (name: string, doc: string, dflt: boolean): Setting<boolean> =>
  setting(name, doc, dflt, (v, n) => {
    if (/^(1|true|yes|on)$/i.test(v)) return true;
    if (/^(0|false|no|off)$/i.test(v)) return false;
    throw new ConfigError(n, `'${v}' is not a boolean (true/false)`);
  });

export const oneOf = <T extends string>(name: string, doc: string, dflt: T, values: readonly T[]): Setting<T> =>
  setting(name, doc, dflt, (v, n) => {
    if (!(values as readonly string[]).includes(v)) throw new ConfigError(n, `'${v}' is not one of ${values.join(', ')}`);
    return v as T;
  });

export const list = (name: string, doc: string): Setting<string[]> =>
  setting<string[]>(name, doc, [], (v) => v.split(',').map((s) => s.trim()).filter(Boolean), { defaultText: '' });

export type Env = Readonly<Record<string, string | undefined>>;
export type Values<S extends Record<string, Setting<unknown>>> = { [K in keyof S]: S[K] extends Setting<infer T> ? T : never };

/** Parses every setting of `spec` from `env`. Throws ConfigError naming the first bad one. */
export function loadSettings<S extends Record<string, Setting<unknown>>>(spec: S, env: Env): Values<S> {
  const out: Record<string, unknown> = {};
  for (const [key, s] of Object.entries(spec)) out[key] = s.parse(env[s.name]);
  return out as Values<S>;
}

/** A copy of config values fit for a log line: secrets are replaced. */
export function redact<S extends Record<string, Setting<unknown>>>(spec: S, values: Values<S>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, s] of Object.entries(spec)) out[key] = s.secret && values[key as keyof S] ? '***' : values[key as keyof S];
  return out;
}
