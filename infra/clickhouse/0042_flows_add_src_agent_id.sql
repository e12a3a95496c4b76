-- Generated from libs/clickhouse/src/flows-table.ts by libs/clickhouse/src/codegen.ts (npm run schemas:gen).
-- Columns the definition gained after the earlier migrations were applied.
ALTER TABLE {{db}}.flows ADD COLUMN IF NOT EXISTS src_agent_id String AFTER src_offset;
ALTER TABLE {{db}}.flows ADD COLUMN IF NOT EXISTS src_seq UInt64 AFTER src_agent_id;
