/**
 * Reads a YAML config and expands environment references the way the OpenTelemetry Collector
 * does: `${env:NAME}`, `${NAME}`, `${env:NAME:-default}`, and `$$` for a literal `$`.
 * A scalar that is nothing but one reference takes the type YAML gives the value (so
 * `port: ${env:PORT}` is a number); a reference inside a longer string stays a string.
 */
import { readFile } from 'node:fs/promises';
import { parseDocument, parse as parseYamlValue } from 'yaml';
import { ConfigError, type ConfigIssue } from '../errors.js';

const REFERENCE = /\$\$|\$\{(?:env:)?([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;
const WHOLE_REFERENCE = /^\$\{(?:env:)?([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}$/;

export interface ExpandResult {
  value: unknown;
  /** Variables referenced but not set and without a default: expanded to "" like the collector, reported as warnings. */
  unset: string[];
}

export function expandEnv(value: unknown, env: NodeJS.ProcessEnv = process.env): ExpandResult {
  const unset = new Set<string>();
  const lookup = (name: string, fallback: string | undefined): string => {
    const v = env[name];
    if (v !== undefined) return v;
    if (fallback !== undefined) return fallback;
    unset.add(name);
    return '';
  };
  const walk = (v: unknown): unknown => {
    if (typeof v === 'string') {
      const whole = WHOLE_REFERENCE.exec(v);
      if (whole) {
        const text = lookup(whole[1]!, whole[2]);
        if (text === '') return text;
        try {
          const typed: unknown = parseYamlValue(text);
          return typed === null || typeof typed === 'object' ? text : typed;
        } catch {
          return text;
        }
      }
      return v.replace(REFERENCE, (m, name: string | undefined, fallback: string | undefined) =>
        m === '$$' ? '$' : lookup(name!, fallback),
      );
    }
    if (Array.isArray(v)) return v.map(walk);
    if (v && typeof v === 'object') {
      const out: Record<string, unknown> = {};
      for (const [k, inner] of Object.entries(v)) out[k] = walk(inner);
      return out;
    }
    return v;
  };
  return { value: walk(value), unset: [...unset] };
}

/** Parses YAML text; syntax errors become ConfigIssues with line and column. */
export function parseYaml(text: string, source: string): unknown {
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const issues: ConfigIssue[] = doc.errors.map((e) => ({
      path: e.linePos ? `line ${e.linePos[0].line}:${e.linePos[0].col}` : '',
      message: e.message.split('\n')[0] ?? e.message,
    }));
    throw new ConfigError(issues, { source });
  }
  return doc.toJS() ?? {};
}

export async function readConfigFile(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new ConfigError([{ path: '', message: `cannot read the file: ${(err as Error).message}` }], {
      source: path,
      cause: err,
    });
  }
  return parseYaml(text, path);
}
