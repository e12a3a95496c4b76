// The `flows` row: its type, column order, builder and the sink's encoder are generated from
// the one definition in flows-table.ts (rows.generated.ts, `npm run schemas:gen`), in the insert
// format codegen.ts names (ROW_FORMAT).
import { FLOW_COLUMNS, formatFlowRow, formatRollupRow, type FlowRow, type RowBlock } from './rows.generated.ts';

export { FLOW_COLUMNS, ROLLUP_COLUMNS, ROLLUP_INSERT_COLUMNS, ROW_FORMAT, columnsOf, encodeFlowRows, encodeRollupRows, flowColumns, formatFlowRow, formatRollupRow, toFlowRows } from './rows.generated.ts';
export type { FlowColumns, FlowRow, RowBlock, SourceCoordinates } from './rows.generated.ts';

/** One row as an array in FLOW_COLUMNS order (the values a JSON format carries). */
export function flowRowValues(r: FlowRow): unknown[] {
  return FLOW_COLUMNS.map((c) => r[c]);
}

/** Hand-made rows (tests, tools) as a block. */
export function rowBlock(rows: readonly FlowRow[]): RowBlock {
  let body = '';
  for (const r of rows) body += `${formatFlowRow(r)}\n`;
  return { body, rows: rows.length };
}

/** Hand-made rows as rollup_input rows, one per flow (weight 1, ROLLUP_INSERT_COLUMNS order). */
export function rollupBlock(rows: readonly FlowRow[]): RowBlock {
  let body = '';
  for (const r of rows) body += `${formatRollupRow(r)}\n`;
  return { body, rows: rows.length };
}
