-- Generated from libs/clickhouse/src/flows-table.ts by libs/clickhouse/src/codegen.ts (npm run schemas:gen).
-- Columns the definition gained after the earlier migrations were applied.
ALTER TABLE {{db}}.flows ADD COLUMN IF NOT EXISTS priced_as String AFTER class;
ALTER TABLE {{db}}.rollup_input ADD COLUMN IF NOT EXISTS priced_as String AFTER class;
