// One definition per metric: name, type, help text and labels. A stage declares its metrics
// with `defineMetrics` (in its own `metrics.ts`); `instruments(registry)` makes the prom-client
// objects, typed by the declaration, and `metricsTable` renders the README's table from the
// same declarations (checked by a test, as the settings table is).
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export type MetricType = 'counter' | 'gauge' | 'histogram';

export interface MetricSpec<L extends string = string> {
  readonly type: MetricType;
  readonly help: string;
  readonly labels?: readonly L[];
  /** Histogram buckets (histograms only). */
  readonly buckets?: readonly number[];
}

type LabelsOf<S> = S extends { labels: readonly (infer L extends string)[] } ? L : never;
export type Instrument<S extends MetricSpec> = S['type'] extends 'counter'
  ? Counter<LabelsOf<S>>
  : S['type'] extends 'gauge'
    ? Gauge<LabelsOf<S>>
    : Histogram<LabelsOf<S>>;
export type Instruments<T extends Record<string, MetricSpec>> = { [K in keyof T]: Instrument<T[K]> };

export interface MetricSet<T extends Record<string, MetricSpec>> {
  /** Component the metrics belong to (the README groups by it). */
  readonly component: string;
  readonly specs: T;
  /** The prom-client instruments of these metrics in `registry` (created once per registry). */
  instruments(registry: Registry): Instruments<T>;
}

const NAME = /^tollgate_[a-z][a-z0-9_]*$/;

/** Declares a component's metrics. Names are full Prometheus names (`tollgate_<component>_...`). */
export function defineMetrics<const T extends Record<string, MetricSpec>>(component: string, specs: T): MetricSet<T> {
  for (const [name, s] of Object.entries(specs)) {
    if (!NAME.test(name)) throw new Error(`metric name ${name} must match ${NAME}`);
    if (s.type === 'counter' && !name.endsWith('_total')) throw new Error(`counter ${name} must end in _total`);
    if (s.buckets && s.type !== 'histogram') throw new Error(`${name}: buckets on a ${s.type}`);
  }
  const made = new WeakMap<Registry, Instruments<T>>();
  return {
    component,
    specs,
    instruments(registry) {
      let got = made.get(registry);
      if (got) return got;
      const out: Record<string, unknown> = {};
      for (const [name, s] of Object.entries(specs)) {
        const existing = registry.getSingleMetric(name);
        if (existing) {
          out[name] = existing;
          continue;
        }
        const base = { name, help: s.help, labelNames: [...(s.labels ?? [])], registers: [registry] };
        out[name] =
          s.type === 'counter'
            ? new Counter(base)
            : s.type === 'gauge'
              ? new Gauge(base)
              : new Histogram({ ...base, ...(s.buckets ? { buckets: [...s.buckets] } : {}) });
      }
      got = out as Instruments<T>;
      made.set(registry, got);
      return got;
    },
  };
}

/** The README's metrics table (Markdown) from the given declarations. */
export function metricsTable(sets: readonly MetricSet<Record<string, MetricSpec>>[]): string {
  const rows: string[] = [];
  const seen = new Set<string>();
  for (const set of sets) {
    for (const [name, s] of Object.entries(set.specs)) {
      if (seen.has(name)) continue;
      seen.add(name);
      const labels = s.labels?.length ? s.labels.map((l) => `\`${l}\``).join(', ') : '';
      rows.push(`| \`${name}\` | ${s.type} | ${set.component} | ${labels} | ${s.help.replace(/\|/g, '\\|')} |`);
    }
  }
  return ['| Metric | Type | Component | Labels | Meaning |', '| --- | --- | --- | --- | --- |', ...rows].join('\n');
}
