export { openStore } from './store.ts';
export type { Store, StoreConfig, Chunk } from './store.ts';
export { chunkToken } from './chunks.ts';
export { toFlowRows, encodeFlowRows, rowBlock, flowRowValues, FLOW_COLUMNS, ROLLUP_COLUMNS } from './rows.ts';
export { FLOW_TABLE, type FlowColumn } from './flows-table.ts';
export type { FlowRow, RowBlock, SourceCoordinates } from './rows.ts';
export { runMigrations, loadMigrations, splitStatements, DEFAULT_MIGRATIONS_DIR } from './migrate.ts';
export type { Migration } from './migrate.ts';
export type { Period, Money, ClassCost, WorkloadCost, CostTotals, AnomalyRow, AnomalyGroup, WorkloadClassBytes } from './reports.ts';
