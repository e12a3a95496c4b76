// The sink's slice of the settings catalogue (libs/config/src/settings.ts), validated.
import { ConfigError, loadSettings, settings, type Env } from '@tollgate/config';
import { MAX_CHUNK_ROWS } from '@tollgate/clickhouse';

export interface SinkConfig {
  /** Rows per chunk (one ClickHouse insert, one part), at most (TOLLGATE_SINK_BATCH_ROWS). */
  batchRows: number;
  /** Longest wait for a fuller batch, ms (TOLLGATE_SINK_FLUSH_MS). */
  flushMs: number;
  /**
   * The enriched topic is written in transactions (TOLLGATE_ENRICHER_TRANSACTIONS): the consumer
   * may commit past their markers once caught up. Absent: false.
   */
  transactionalInput?: boolean;
}

export function loadSinkConfig(env: Env): SinkConfig {
  const s = loadSettings(settings.sink, env);
  return validateSinkConfig({ ...s, transactionalInput: loadSettings({ transactions: settings.enricher.transactions }, env).transactions });
}

export function validateSinkConfig(s: SinkConfig): SinkConfig {
  if (!Number.isInteger(s.batchRows) || s.batchRows < 1 || s.batchRows > MAX_CHUNK_ROWS) {
    // Above ClickHouse's insert block (max_insert_block_size, ~1M rows) an insert is two parts, not one atomic write.
    throw new ConfigError('TOLLGATE_SINK_BATCH_ROWS', `${s.batchRows} is outside 1..${MAX_CHUNK_ROWS} (a chunk must fit one ClickHouse insert block)`);
  }
  return s;
}
