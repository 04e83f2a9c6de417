// What commands print: aligned tables and key/value blocks for people, JSON for scripts.
// stdout carries the result only; messages for people who read along go to stderr.

export type Io = {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** The whole of standard input (for --password-stdin). */
  readStdin: () => Promise<string>;
  /** A hidden prompt on the terminal, or null when there is no terminal to ask on. */
  promptHidden: ((question: string) => Promise<string>) | null;
};

export type Column<T> = { header: string; value: (row: T) => string };

/** Columns padded to their widest cell; the last column is not padded. */
export function table<T>(rows: readonly T[], columns: readonly Column<T>[]): string {
  const cells = [columns.map((c) => c.header), ...rows.map((row) => columns.map((c) => c.value(row)))];
  const widths = columns.map((_, i) => Math.max(...cells.map((line) => line[i]!.length)));
  return cells
    .map((line) => line.map((cell, i) => (i === line.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ').trimEnd())
    .join('\n');
}

/** `key: value` lines, keys aligned; list values are joined with ", " ("-" when empty). */
export function details(entries: readonly [string, unknown][]): string {
  const width = Math.max(...entries.map(([key]) => key.length)) + 1;
  return entries.map(([key, value]) => `${`${key}:`.padEnd(width)} ${display(value)}`).join('\n');
}

export function display(value: unknown): string {
  if (value === null || value === undefined || value === '') return '-';
  if (Array.isArray(value)) return value.length ? value.map(display).join(', ') : '-';
  if (value instanceof Date) return value.toISOString();
  switch (typeof value) {
    case 'string':
    case 'number':
    case 'boolean':
    case 'bigint':
      return String(value);
    default:
      return JSON.stringify(value) ?? '-';
  }
}

export function json(value: unknown): string {
  return JSON.stringify(value, null, 2);
}
