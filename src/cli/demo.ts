/** `netspan demo`: the collector with the built-in scenario and the web UI, until Ctrl-C (or --once). */
import { parseArgs } from 'node:util';
import { DEFAULT_UI_ENDPOINT } from '../ui/config.js';
import { errorMessage, NetspanError } from '../core/errors.js';
import { DEFAULT_DEMO_REQUESTS, demoReport, startDemo } from '../demo/run.js';

export const DEMO_USAGE = `netspan demo [--ui-endpoint HOST:PORT] [--requests N] [--interval MS] [--once]`;

export async function runDemo(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      'ui-endpoint': { type: 'string', default: DEFAULT_UI_ENDPOINT },
      requests: { type: 'string', default: String(DEFAULT_DEMO_REQUESTS) },
      interval: { type: 'string', default: '3000' },
      once: { type: 'boolean', default: false },
    },
    strict: true,
  });
  const requests = Number(values.requests);
  const interval = Number(values.interval);
  if (!Number.isInteger(requests) || requests < 1 || requests > 10_000) throw new Error('--requests must be an integer 1..10000');
  if (!Number.isInteger(interval) || interval < 0) throw new Error('--interval must be a number of milliseconds (0: no new requests)');
  let demo;
  try {
    demo = await startDemo({ uiEndpoint: values['ui-endpoint'], requests, intervalMs: values.once ? 0 : interval });
  } catch (err) {
    process.stderr.write(
      `netspan demo: ${errorMessage(err)}${err instanceof NetspanError && err.code === 'LISTEN_FAILED' ? ' (choose another with --ui-endpoint 127.0.0.1:PORT)' : ''}\n`,
    );
    return 1;
  }
  process.stdout.write(`${demoReport(demo)}\n`);
  if (values.once) {
    await demo.stop();
    return 0;
  }
  process.stdout.write(`Serving ${demo.url} (a new request every ${interval} ms). Ctrl-C stops.\n`);
  return await new Promise<number>((resolve) => {
    const stop = () => {
      demo.stop().then(
        () => resolve(0),
        () => resolve(1),
      );
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}
