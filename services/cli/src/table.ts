// Plain text tables for the terminal.

export interface Column<T> {
  title: string;
  value: (row: T) => string;
  align?: 'left' | 'right';
}

export function renderTable<T>(rows: T[], columns: Column<T>[]): string {
  const cells = rows.map((r) => columns.map((c) => c.value(r)));
  const widths = columns.map((c, i) => Math.max(c.title.length, ...cells.map((r) => r[i]!.length)));
  const line = (vals: string[]) =>
    vals.map((v, i) => (columns[i]!.align === 'right' ? v.padStart(widths[i]!) : v.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(columns.map((c) => c.title)), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line)].join('\n');
}

export const usd = (x: number): string => `$${x.toFixed(x >= 100 ? 0 : x >= 1 ? 2 : 4)}`;

export function bytes(x: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let i = 0;
  let v = x;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}

export const count = (x: number): string => x.toLocaleString('en-US');
