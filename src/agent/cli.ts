/** `netspan agent`: flags and config file → Agent; runs until the files are done or SIGINT/SIGTERM. */
import { parseArgs } from 'node:util';
import { ConfigError, errorMessage } from '../core/errors.js';
import { Agent } from './agent.js';
import { loadAgentConfig, type AgentFlags } from './config.js';

export const AGENT_USAGE = [
  'netspan agent [--config FILE] [--interface IF]... [--filter BPF] [--file PCAP]...',
  '                     [--endpoint URL] [--protocol http|grpc] [--output FILE|-] [--observer NAME] [--clt-ids]',
  '                     [--metrics-address HOST:PORT] [--log-level LEVEL]',
].join('\n');

export function parseAgentFlags(args: string[]): { config?: string; flags: AgentFlags } {
  const { values, positionals } = parseArgs({
    args,
    options: {
      config: { type: 'string', short: 'c' },
      interface: { type: 'string', short: 'i', multiple: true },
      filter: { type: 'string', short: 'f' },
      file: { type: 'string', short: 'r', multiple: true },
      endpoint: { type: 'string', short: 'e' },
      protocol: { type: 'string' },
      output: { type: 'string', short: 'o' },
      observer: { type: 'string' },
      'clt-ids': { type: 'boolean' },
      'metrics-address': { type: 'string' },
      'log-level': { type: 'string' },
    },
    allowPositionals: true,
    strict: true,
  });
  if (positionals.length > 0) throw new AgentUsageError(`unexpected argument "${positionals[0]}" (files go after --file)`);
  const flags: AgentFlags = {};
  if (values.interface) flags.interface = values.interface;
  if (values.filter !== undefined) flags.filter = values.filter;
  if (values.file) flags.file = values.file;
  if (values.endpoint !== undefined) flags.endpoint = values.endpoint;
  if (values.protocol !== undefined) flags.protocol = values.protocol;
  if (values.output !== undefined) flags.output = values.output;
  if (values.observer !== undefined) flags.observer = values.observer;
  if (values['clt-ids']) flags.cltIds = true;
  if (values['metrics-address'] !== undefined) flags.metricsAddress = values['metrics-address'];
  if (values['log-level'] !== undefined) flags.logLevel = values['log-level'];
  return { ...(values.config !== undefined ? { config: values.config } : {}), flags };
}

class AgentUsageError extends Error {}

/** Runs the agent command; the exit code. `usageError` makes the CLI's own usage error (exit 2). */
export async function runAgent(args: string[], usageError: (message: string) => Error): Promise<number> {
  let parsed;
  try {
    parsed = parseAgentFlags(args);
  } catch (err) {
    if (err instanceof AgentUsageError) throw usageError(err.message);
    throw err;
  }
  let agent: Agent;
  try {
    const loaded = await loadAgentConfig(parsed.config, parsed.flags);
    agent = new Agent(loaded.config);
    for (const name of loaded.unsetVariables)
      agent.logger.warn({ variable: name }, 'config references an unset environment variable; it expanded to ""');
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      return 1;
    }
    throw err;
  }
  try {
    await agent.start();
  } catch (err) {
    agent.logger.fatal({ err: errorMessage(err), code: (err as { code?: string }).code }, 'netspan agent could not start');
    return 1;
  }
  return await new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (reason: string, filesDone = false) => {
      if (stopping) {
        agent.logger.warn({ reason }, 'second signal: exiting without waiting for the flush');
        resolve(130);
        return;
      }
      stopping = true;
      agent.logger.info({ reason }, 'shutting down: stopping the capture, flushing what is in flight');
      agent.shutdown().then(
        // Reading files is a job that can fail: losing observations makes it exit 1, as decode does with errors.
        async () => resolve(filesDone && (await agent.lost()) > 0 ? 1 : 0),
        (err: unknown) => {
          agent.logger.error({ err: errorMessage(err) }, 'shutdown failed');
          resolve(1);
        },
      );
    };
    process.on('SIGINT', () => stop('SIGINT'));
    process.on('SIGTERM', () => stop('SIGTERM'));
    void agent.finished.then(() => stop('every capture file has been read', true));
  });
}
