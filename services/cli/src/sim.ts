// The simulated cluster as configured by TOLLGATE_SIM_*: the same settings give the same
// scenario in every process (agent, enricher, demo, tests).
import { ConfigError, loadSettings, settings, type Env } from '@tollgate/config';
import { createScenario, HOUR, DAY, type Scenario } from '@tollgate/sim';

export type { Scenario };

export function simStart(raw: string, days: number, now = Date.now()): number {
  if (!raw) return Math.floor(now / DAY) * DAY - days * DAY;
  const t = Date.parse(raw);
  if (Number.isNaN(t)) throw new ConfigError('TOLLGATE_SIM_START', `'${raw}' is not an ISO time (e.g. 2026-11-20T00:00:00Z)`);
  if (t % HOUR !== 0) throw new ConfigError('TOLLGATE_SIM_START', `'${raw}' must be on a whole hour`);
  return t;
}

export function scenarioFromEnv(env: Env): Scenario {
  const s = loadSettings(settings.sim, env);
  return createScenario({ seed: s.seed, days: s.days, scale: s.scale, start: simStart(s.start, s.days) });
}

/** Enricher settings for a simulated cluster: the scenario's own, overridden by what the user set. */
export function withScenarioEnv(env: Env, scenario: Scenario): Env {
  const out: Record<string, string | undefined> = { ...scenario.enricherEnv };
  for (const [k, v] of Object.entries(env)) if (v !== undefined && v !== '') out[k] = v;
  return out;
}
