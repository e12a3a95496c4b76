-- Generated from libs/clickhouse/src/flows-table.ts by libs/clickhouse/src/codegen.ts (npm run schemas:gen).
-- Columns the definition gained after the earlier migrations were applied.
ALTER TABLE {{db}}.rollup_input ADD COLUMN IF NOT EXISTS local_labels Map(String, String) AFTER local_region;
