#!/usr/bin/env node
/** The netspan command line: one entry point, one function per command. */
import { parseArgs } from 'node:util';
import { readFileSync } from 'node:fs';
import { FACTORIES } from '../components.js';
import { Collector, loadConfig } from '../core/collector.js';
import { ConfigError, errorMessage } from '../core/errors.js';
import { DEFAULT_CONFIG_YAML } from '../core/default-config.js';
import { decodeFiles, RECORD_KINDS, type RecordKind } from './decode.js';
import { runAgent, AGENT_USAGE } from '../agent/cli.js';
import { runDemo, DEMO_USAGE } from './demo.js';

interface Command {
  summary: string;
  usage: string;
  run(args: string[]): Promise<number>;
}

const COMMANDS: Record<string, Command> = {
  run: {
    summary: 'Run the collector (the embedded default config when --config is not given).',
    usage: 'netspan run [--config FILE]',
    run: runCommand,
  },
  demo: {
    summary:
      'Start the collector with a built-in scenario (three tiers, two routers, one congested) and its web UI; no root, no other service.',
    usage: DEMO_USAGE,
    run: (args) => runDemo(args),
  },
  validate: {
    summary: 'Check a config file; prints every problem with its path and exits 1 if there is any.',
    usage: 'netspan validate --config FILE',
    run: validateCommand,
  },
  decode: {
    summary: 'Decode pcap, pcapng or raw export payload (.dat) files; one JSON object per record on stdout, problems on stderr.',
    usage: `netspan decode [--kind ${RECORD_KINDS.join('|')}]... FILE...`,
    run: decodeCommand,
  },
  agent: {
    summary:
      'Capture packets (tcpdump per interface, or pcap files), make IOAM observations and send them to a collector as OTLP logs and/or print them as JSON lines.',
    usage: AGENT_USAGE,
    run: (args) => runAgent(args, (message) => new UsageError(message)),
  },
  'print-default-config': {
    summary: 'Print the embedded default configuration (YAML), a starting point for your own.',
    usage: 'netspan print-default-config',
    run: async () => {
      process.stdout.write(DEFAULT_CONFIG_YAML);
      return 0;
    },
  },
  components: {
    summary: 'List the receivers, processors and exporters this build has.',
    usage: 'netspan components',
    run: async () => {
      for (const kind of ['receiver', 'processor', 'exporter'] as const) {
        process.stdout.write(`${kind}s:\n`);
        for (const f of FACTORIES.filter((x) => x.kind === kind))
          process.stdout.write(`  ${f.type.padEnd(14)} [${f.signals.join(', ')}] ${f.description}\n`);
      }
      return 0;
    },
  },
};

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

function help(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((c) => c.length));
  return [
    'netspan: puts the network into OpenTelemetry traces.',
    '',
    'Usage: netspan <command> [options]',
    '',
    'Commands:',
    ...Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}\n  ${' '.repeat(width)}  usage: ${c.usage}`),
    '',
    'Options:',
    "  --help, -h     Show this help (or a command's, after the command).",
    '  --version, -v  Print the version.',
    '',
    "Config: YAML in the OpenTelemetry Collector's shape (receivers, processors, exporters,",
    'service.pipelines), with ${env:VAR} and ${env:VAR:-default} expanded. See the README.',
    '',
  ].join('\n');
}

function configOption(args: string[], required: boolean): string | undefined {
  const { values } = parseArgs({ args, options: { config: { type: 'string', short: 'c' } }, strict: true });
  if (required && !values.config) throw new UsageError('--config FILE is required');
  return values.config;
}

class UsageError extends Error {}

function reportConfigError(err: unknown): number {
  if (err instanceof ConfigError) {
    process.stderr.write(`${err.message}\n`);
    return 1;
  }
  throw err;
}

async function validateCommand(args: string[]): Promise<number> {
  const path = configOption(args, true)!;
  try {
    const loaded = await loadConfig(path, FACTORIES);
    for (const name of loaded.unsetVariables) process.stderr.write(`warning: \${env:${name}} is not set; it expands to ""\n`);
    const n = loaded.config.pipelines.length;
    process.stdout.write(`${path}: valid (${n} pipeline${n === 1 ? '' : 's'}: ${loaded.config.pipelines.map((p) => p.name).join(', ')})\n`);
    return 0;
  } catch (err) {
    return reportConfigError(err);
  }
}

async function decodeCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: { kind: { type: 'string', multiple: true } },
    allowPositionals: true,
    strict: true,
  });
  if (positionals.length === 0) throw new UsageError('name at least one file');
  const kinds = new Set((values.kind ?? [...RECORD_KINDS]) as RecordKind[]);
  for (const k of kinds) if (!RECORD_KINDS.includes(k)) throw new UsageError(`unknown --kind "${k}" (one of ${RECORD_KINDS.join(', ')})`);
  const summary = await decodeFiles(positionals, {
    kinds,
    write: (line) => process.stdout.write(`${line}\n`),
    writeError: (line) => process.stderr.write(`${line}\n`),
  });
  // Records decoded with some errors is still a useful run; nothing at all decoded with errors is not.
  return summary.errors > 0 && summary.records === 0 ? 1 : 0;
}

async function runCommand(args: string[]): Promise<number> {
  const path = configOption(args, false);
  let collector: Collector;
  try {
    collector = new Collector(await loadConfig(path, FACTORIES));
  } catch (err) {
    return reportConfigError(err);
  }
  try {
    await collector.start();
  } catch (err) {
    collector.logger.fatal({ err: errorMessage(err) }, 'netspan could not start');
    return 1;
  }
  return await new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) {
        collector.logger.warn({ signal }, 'second signal: exiting without waiting for the flush');
        resolve(130);
        return;
      }
      stopping = true;
      collector.logger.info({ signal }, 'shutting down: flushing what is in flight');
      collector.shutdown().then(
        () => resolve(0),
        (err: unknown) => {
          collector.logger.error({ err: errorMessage(err) }, 'shutdown failed');
          resolve(1);
        },
      );
    };
    process.on('SIGINT', () => stop('SIGINT'));
    process.on('SIGTERM', () => stop('SIGTERM'));
  });
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(help());
    return name ? 0 : 2;
  }
  if (name === '--version' || name === '-v' || name === 'version') {
    process.stdout.write(`netspan ${version()}\n`);
    return 0;
  }
  const command = COMMANDS[name];
  if (!command) {
    process.stderr.write(`netspan: unknown command "${name}"\n\n${help()}`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(`${command.summary}\nusage: ${command.usage}\n`);
    return 0;
  }
  try {
    return await command.run(rest);
  } catch (err) {
    if (err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`netspan ${name}: ${errorMessage(err)}\nusage: ${command.usage}\n`);
      return 2;
    }
    throw err;
  }
}

// `netspan decode ... | head` closes the pipe early: that ends the output, it is not an error.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
    // Servers and timers are closed on shutdown; exit explicitly so a stray handle cannot hang the CLI.
    setImmediate(() => process.exit(code));
  },
  (err: unknown) => {
    process.stderr.write(`netspan: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
