/**
 * The receiver's own behaviour without snmpd: scheduling from start(), polling the flow
 * exporters the device store has seen, and a failing agent on loopback. The "agent" is a UDP
 * socket on port 0 that records what arrives and never answers.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { once } from 'node:events';
import { SelfMetrics } from '../../core/telemetry/metrics.js';
import { devicesConfigSchema } from '../../devices/config.js';
import { Inventory } from '../../devices/inventory.js';
import { DeviceStateStore, deviceStoreOptions } from '../../devices/store.js';
import { RecordingEvidence, recordingSettings } from '../../testutil/index.js';
import { snmpReceiverConfigSchema } from './config.js';
import { SnmpReceiver } from './receiver.js';

async function silentAgent(): Promise<{ socket: Socket; port: number; datagrams: Buffer[]; next: () => Promise<void> }> {
  const socket = createSocket('udp4');
  const datagrams: Buffer[] = [];
  let waiter: (() => void) | undefined;
  socket.on('message', (m) => {
    datagrams.push(m);
    waiter?.();
  });
  socket.bind(0, '127.0.0.1');
  await once(socket, 'listening');
  return {
    socket,
    port: socket.address().port,
    datagrams,
    next: () => new Promise<void>((r) => (waiter = r)),
  };
}

test('poll_flow_exporters: an exporter the device store has seen is polled with the defaults', async () => {
  const agent = await silentAgent();
  const devicesConfig = devicesConfigSchema.parse({ inventory: { edge: { flow_exporters: ['127.0.0.1', '127.0.0.2'] } } });
  const store = new DeviceStateStore(deviceStoreOptions(devicesConfig), new SelfMetrics(), new Inventory(devicesConfig.inventory));
  store.noteFlowExporter('127.0.0.1');
  const settings = recordingSettings('snmp');
  settings.evidenceStores = { devices: store };
  const config = snmpReceiverConfigSchema.parse({
    poll_flow_exporters: true,
    port: agent.port,
    timeout: '5s',
    retries: 0,
    collection_interval: '1h',
  });
  const receiver = new SnmpReceiver(settings, config, {});
  const first = agent.next();
  await receiver.start();
  assert.deepEqual(receiver.targetKeys(), [`127.0.0.1:${agent.port}`]);
  // start() polls at once: the request arrives (a v2c GetRequest with the default community).
  await first;
  assert.ok(agent.datagrams[0]!.includes(Buffer.from('public')));
  assert.ok(settings.logs.some((l) => l.msg === 'snmp: polling a flow exporter' && l.device === 'edge'));
  // More exporters of the same inventory device add no target; an exporter of another device does.
  store.noteFlowExporter('127.0.0.2');
  store.noteFlowExporter('127.0.0.3');
  receiver.discoverExporters();
  assert.deepEqual(receiver.targetKeys(), [`127.0.0.1:${agent.port}`, `127.0.0.3:${agent.port}`]);
  await receiver.shutdown();
  // The poll cut short by shutdown is no failure.
  assert.equal(await settings.metrics.value('netspan_snmp_polls_total'), 0);
  agent.socket.close();
});

test('an agent that never answers: timeout outcome counted, logged once per log_interval with the reason, no reading', async () => {
  const agent = await silentAgent();
  const evidence = new RecordingEvidence();
  const settings = recordingSettings('snmp/edge');
  settings.evidence = evidence;
  const config = snmpReceiverConfigSchema.parse({
    targets: [{ address: '127.0.0.1', port: agent.port, device: 'quiet' }],
    timeout: '20ms',
    retries: 0,
    log_interval: '1h',
  });
  const receiver = new SnmpReceiver(settings, config, {});
  const results = [...(await receiver.pollAll()), ...(await receiver.pollAll())];
  assert.deepEqual(
    results.map((r) => [r.device, r.outcome]),
    [
      ['quiet', 'timeout'],
      ['quiet', 'timeout'],
    ],
  );
  assert.equal(await settings.metrics.value('netspan_snmp_polls_total', { device: 'quiet', outcome: 'timeout' }), 2);
  const warnings = settings.logs.filter((l) => l.msg === 'snmp poll failed');
  assert.equal(warnings.length, 1);
  assert.equal(warnings[0]!.device, 'quiet');
  assert.equal(warnings[0]!.outcome, 'timeout');
  assert.match(String(warnings[0]!.reason), /no response/);
  await receiver.shutdown();
  agent.socket.close();
});
