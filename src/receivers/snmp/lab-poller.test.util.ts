/**
 * The SNMP receiver in a child process, for the namespace lab test (the test process cannot
 * reach a lab address; this runs inside a namespace through `ip netns exec`):
 *
 *   node lab-poller.test.util.js '{"receiver": {...snmp config}, "devices": {...evidence.devices}}'
 *
 * It builds the receiver (never started: no timers) over a real device state store, then
 * answers commands on stdin, one JSON line on stdout each:
 *   poll            → {"polls": [PollResult without the reading, plus its interfaces]}
 *   series <device> → {"series": DeviceSeries, "state": stateAt(now, window 1h)}
 *   metrics         → {"metrics": {"<name>{labels}": value, ...}} for the snmp and devices families
 *   exit
 * Logs (pino JSON) go to stderr. Bigints are printed as strings.
 */
import { createInterface } from 'node:readline';
import { createLogger } from '../../core/telemetry/logger.js';
import { SelfMetrics } from '../../core/telemetry/metrics.js';
import { devicesConfigSchema } from '../../devices/config.js';
import { Inventory } from '../../devices/inventory.js';
import { DeviceStateStore, deviceStoreOptions } from '../../devices/store.js';
import type { EvidenceSink } from '../../core/component.js';
import { snmpReceiverConfigSchema } from './config.js';
import { SnmpReceiver } from './receiver.js';

const json = (v: unknown) => JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? x.toString() : x));

async function main(): Promise<void> {
  const raw = JSON.parse(process.argv[2] ?? '{}') as { receiver?: unknown; devices?: unknown };
  const metrics = new SelfMetrics();
  const logger = createLogger('info', 2);
  const devicesConfig = devicesConfigSchema.parse(raw.devices ?? {});
  const store = new DeviceStateStore(deviceStoreOptions(devicesConfig), metrics, new Inventory(devicesConfig.inventory));
  const sink: EvidenceSink = {
    addFlows: () => undefined,
    addInterfaceCounters: () => undefined,
    addObservations: () => undefined,
    addDeviceReadings: (readings) => store.addReadings(readings),
  };
  const receiver = new SnmpReceiver(
    { id: 'snmp', logger: logger.child({ component: 'snmp' }), metrics, evidence: sink, evidenceStores: { devices: store } },
    snmpReceiverConfigSchema.parse(raw.receiver ?? {}),
    {},
  );
  process.stdout.write(`${json({ ready: true, targets: receiver.targetKeys() })}\n`);
  for await (const line of createInterface({ input: process.stdin })) {
    const [cmd, arg] = line.trim().split(/\s+/);
    if (cmd === 'poll') {
      const results = await receiver.pollAll();
      const polls = results.map(({ reading, ...r }) => ({
        ...r,
        interfaces: reading?.interfaces ?? [],
        cpu: reading?.cpu,
        memory: reading?.memory,
      }));
      process.stdout.write(`${json({ polls })}\n`);
    } else if (cmd === 'series' && arg) {
      const now = BigInt(Date.now()) * 1_000_000n;
      const hour = 3_600_000_000_000n;
      process.stdout.write(
        `${json({ series: store.seriesIn(arg, undefined, 0n, now), state: store.stateAt(arg, undefined, now, hour) })}\n`,
      );
    } else if (cmd === 'metrics') {
      const out: Record<string, number> = {};
      for (const m of await metrics.registry.getMetricsAsJSON()) {
        if (!m.name.startsWith('netspan_snmp_') && !m.name.startsWith('netspan_devices_')) continue;
        for (const v of m.values as { labels: Record<string, string | number>; value: number; metricName?: string }[]) {
          const labels = Object.entries(v.labels)
            .map(([k, x]) => `${k}=${x}`)
            .join(',');
          out[`${v.metricName ?? m.name}{${labels}}`] = v.value;
        }
      }
      process.stdout.write(`${json({ metrics: out })}\n`);
    } else if (cmd === 'exit') break;
  }
  await receiver.shutdown();
}

await main();
