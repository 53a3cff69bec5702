/** The command-line shape the benchmarks share: the repository root, --help, numeric options, main(). */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, type ParseArgsConfig } from 'node:util';

/** The folder holding package.json above this file (the checkout, whether run from bench/ or dist/bench/). */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('package.json not found above the bench');
    dir = up;
  }
  return dir;
}

/** bench/<name>/results/latest.json under the repository root. */
export function defaultResultsFile(benchmark: string): string {
  return join(repoRoot(), 'bench', benchmark, 'results', 'latest.json');
}

/** Throws unless dist/src/cli/main.js exists (the benchmarks start `netspan run` from it). */
export function requireBuild(root: string): void {
  if (!existsSync(join(root, 'dist', 'src', 'cli', 'main.js')))
    throw new Error('dist/src/cli/main.js is missing: run `npm run build` first');
}

type Options = NonNullable<ParseArgsConfig['options']>;

/**
 * parseArgs over process.argv with a --help that prints `usage` and exits; returns the values
 * and `num`, which checks a numeric option is in [min, max].
 */
export function parseOptions<const O extends Options>(usage: string, options: O) {
  const { values } = parseArgs({ options: { ...options, help: { type: 'boolean', default: false } } as O & Options });
  if ((values as { help?: boolean }).help) {
    console.log(usage);
    process.exit(0);
  }
  return { values: values as ReturnType<typeof parseArgs<{ options: O }>>['values'], num };
}

/** A numeric option's value, checked to be in [min, max]. */
export function num(name: string, v: string, min: number, max: number): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n < min || n > max) throw new Error(`--${name} must be a number in [${min}, ${max}]`);
  return n;
}

/** Runs a benchmark's main(): an error is printed with its stack and exits 1. */
export function runMain(main: () => Promise<void>): void {
  main().catch((err: unknown) => {
    console.error(err instanceof Error ? (err.stack ?? err.message) : err);
    process.exit(1);
  });
}
