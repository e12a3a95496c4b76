// The alert publisher's settings: command-line options of `tollgate alerts` (no environment
// settings of its own; Kafka and ClickHouse come from TOLLGATE_KAFKA_* / TOLLGATE_CLICKHOUSE_*).
export interface AlertsSettings {
  /** How far back each round judges, ms: the hours in [now - lookbackMs, start of the current hour). */
  lookbackMs: number;
  /** Pause between rounds, ms; 0: one round, then stop (`--once`). */
  intervalMs: number;
  /** Longest wait for the ledger to catch up with the topic, ms. */
  catchUpTimeoutMs: number;
}

export const ALERTS_DEFAULTS: AlertsSettings = { lookbackMs: 48 * 3_600_000, intervalMs: 60_000, catchUpTimeoutMs: 60_000 };

/** Defaults filled in and checked; a RangeError names the bad field. */
export function alertsSettings(o: Partial<AlertsSettings> = {}): AlertsSettings {
  const s = { ...ALERTS_DEFAULTS, ...o };
  if (!Number.isFinite(s.lookbackMs) || s.lookbackMs < 3_600_000) throw new RangeError(`lookback must be at least 1h, got ${s.lookbackMs} ms`);
  if (!Number.isFinite(s.intervalMs) || s.intervalMs < 0) throw new RangeError(`interval must be >= 0, got ${s.intervalMs} ms`);
  if (!Number.isFinite(s.catchUpTimeoutMs) || s.catchUpTimeoutMs < 100) throw new RangeError(`catch-up timeout must be >= 100 ms, got ${s.catchUpTimeoutMs} ms`);
  return s;
}
