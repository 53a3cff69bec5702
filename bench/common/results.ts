/** Writing a benchmark's results JSON and its markdown tables. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, relative } from 'node:path';

/** Writes `json` (already serialized, without the final newline) to `out`, creating its folder, and says so on stderr. */
export function writeResultsText(out: string, json: string): void {
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, `${json}\n`);
  console.error(`results written to ${relative(process.cwd(), out) || out}`);
}

/** Writes `results` as 2-space indented JSON to `out`. */
export function writeResults(out: string, results: unknown): void {
  writeResultsText(out, JSON.stringify(results, null, 2));
}

/** A markdown table: a header row, the separator, then one line per row. */
export function markdownTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const line = (cells: readonly string[]) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}
