/** `netspan run` inside a lab namespace (the real CLI, as the e2e tests run it elsewhere). */
import { NetspanProcess } from '../netspan-process.js';
import { labEnv } from './proc.js';

/**
 * Starts `ip netns exec <ns> node dist/src/cli/main.js run --config ...`; resolves once it logged
 * "netspan started". `$DIR` in the config is its own temporary folder. The process lives in
 * the namespace, so the lab's teardown kills it if the test does not stop it.
 */
export function startNetspanIn(ns: string, configYaml: string): Promise<NetspanProcess> {
  return NetspanProcess.start(configYaml, { PATH: labEnv().PATH }, { commandPrefix: ['ip', 'netns', 'exec', ns] });
}
