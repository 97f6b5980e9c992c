// Small helpers shared by the benchmarks (and the simulator CLI): an aligned text table,
// number formatting, a median, and the usage-error exit (one sentence on stderr, exit 2).

/** A table cell: columns of numbers are right-aligned, others left-aligned. */
export type Cell = string | number;

/**
 * Formats rows under a header as an aligned plain-text table (two spaces between
 * columns, a dashed rule under the header). Returns the lines without a trailing newline.
 */
export function formatTable(header: string[], rows: Cell[][]): string {
  const columns = header.length;
  // Numbers in a column share its largest count of decimals, so decimal points line up.
  const decimalsOf = (cell: Cell | undefined): number =>
    typeof cell === 'number' && Number.isFinite(cell) ? (String(cell).split('.')[1] ?? '').length : 0;
  const decimals = header.map((_, column) => Math.max(0, ...rows.map((row) => decimalsOf(row[column]))));
  const text = (cell: Cell | undefined, column: number): string =>
    cell === undefined ? '' : typeof cell === 'number' && Number.isFinite(cell) ? cell.toFixed(decimals[column]) : String(cell);
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => text(row[column], column).length)));
  // A column of numbers (blank cells allowed) is right-aligned.
  const numeric = header.map(
    (_, column) =>
      rows.some((row) => typeof row[column] === 'number') &&
      rows.every((row) => typeof row[column] === 'number' || row[column] === '' || row[column] === undefined),
  );
  const line = (cells: Cell[], isHeader: boolean): string =>
    Array.from({ length: columns }, (_, column) => {
      const value = isHeader ? String(cells[column] ?? '') : text(cells[column], column);
      return numeric[column] ? value.padStart(widths[column]!) : value.padEnd(widths[column]!);
    })
      .join('  ')
      .trimEnd();
  const rule = widths.map((width) => '-'.repeat(width)).join('  ');
  return [line(header, true), rule, ...rows.map((row) => line(row, false))].join('\n');
}

/** Prints a table made by {@link formatTable} to stdout. */
export function printTable(header: string[], rows: Cell[][]): void {
  process.stdout.write(formatTable(header, rows) + '\n');
}

/** Rounds `value` to `digits` decimals and returns it as a number (for JSON and tables). */
export function round(value: number, digits = 3): number {
  if (!Number.isFinite(value)) return 0;
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}

/** The median of a non-empty list (mean of the middle two for even lengths); 0 when empty. */
export function median(values: number[]): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** Writes one sentence to stderr and exits with status 2 (bad usage). */
export function usageError(sentence: string): never {
  process.stderr.write(sentence.trimEnd() + '\n');
  process.exit(2);
}

/** What {@link parseBenchArgs} found on the command line. */
export interface BenchArgs {
  /** The benchmark name (the one positional argument). */
  name: string;
  json: boolean;
  /** Boolean flags given, without the leading `--` (`json` excluded). */
  flags: Set<string>;
}

/**
 * Parses `NAME [--json] [--FLAG…]` for `npm run bench`. `allowedFlags` lists the extra
 * boolean flags (without `--`) the caller accepts; anything else is a usage error.
 */
export function parseBenchArgs(argv: string[], allowedFlags: readonly string[]): BenchArgs {
  const positional: string[] = [];
  const flags = new Set<string>();
  let json = false;
  for (const arg of argv) {
    if (arg === '--json') json = true;
    else if (arg.startsWith('--')) {
      const flag = arg.slice(2);
      if (!allowedFlags.includes(flag)) usageError(`Unknown flag ${arg}.`);
      flags.add(flag);
    } else positional.push(arg);
  }
  if (positional.length !== 1) usageError('Give exactly one benchmark name, as in: npm run bench -- NAME [--json].');
  return { name: positional[0]!, json, flags };
}
