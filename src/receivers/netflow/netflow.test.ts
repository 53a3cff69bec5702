/**
 * The flow receiver end to end in-process: real UDP datagrams and a real TCP stream carrying
 * vendor captures, decoded by real worker threads, landing in the evidence sink and (with a logs
 * pipeline) as OTLP log records with the contrib netflowreceiver attribute names.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { connect } from 'node:net';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { NetflowReceiver } from './receiver.js';
import { netflowReceiverConfigSchema } from './config.js';
import { createDecoderSession } from './session.js';
import { RecordingConsumer, RecordingEvidence, SHARED_DIR, testSettings } from '../../testutil/index.js';
import { parseHostPort } from '../../core/config/types.js';
import type { CreateSettings } from '../../core/component.js';
import type { KeyValue } from '../../wire/otlp/gen/opentelemetry/proto/common/v1/common_pb.js';
import { packFlows, unpackFlows } from '../../evidence/memory/rows.js';
import { EvidenceHub, evidenceConfigSchema } from '../../core/evidence-hub.js';
import { SelfMetrics } from '../../core/telemetry/metrics.js';
import { silentLogger } from '../../core/telemetry/logger.js';
import type { FlowRecord } from '../../model/flow.js';
import { MemoryFlowStore } from '../../evidence/memory/store.js';
import { decodePacket, readPcap } from '../../capture/index.js';
import { REPO_ROOT } from '../../testutil/index.js';
import { udpReceiveAvailable } from '../../native/udp.js';

const native = udpReceiveAvailable();
/** Every UDP test runs on both receive paths: in the workers through the addon, and node:dgram on the main thread. */
const RECEIVE_PATHS = [
  { name: 'native receive', native_receive: true, udpReceive: 'native', skip: native.ok ? false : native.reason },
  { name: 'node:dgram', native_receive: false, udpReceive: 'dgram', skip: false },
] as const;
type ReceivePath = (typeof RECEIVE_PATHS)[number];

/** The receiver's config on the receive path: one loopback UDP endpoint, no TCP, unless `options` say otherwise. */
function udpConfig(path: ReceivePath, options: Record<string, unknown> = {}) {
  return netflowReceiverConfigSchema.parse({
    native_receive: path.native_receive,
    endpoints: ['127.0.0.1:0'],
    tcp_endpoint: '',
    ...options,
  });
}

/** The UDP payloads of a bench/flows capture. */
function benchPayloads(file: string): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const frame of readPcap(readFileSync(join(REPO_ROOT, 'bench', 'flows', 'captures', file))).packets) {
    const p = decodePacket(frame.data, frame.linkType);
    if (p.protocol === 17 && !p.truncated && p.payload.length > 0) out.push(Uint8Array.from(p.payload));
  }
  return out;
}

const DAT = join(SHARED_DIR, 'data', 'netflow', 'logstash-codec-netflow', 'dat');
const dat = (name: string) => readFileSync(join(DAT, name));

/** Captures sent in order through one exporter: templates first, then data. */
const SEQUENCE = [
  'netflow9_test_softflowd_tpl_data.dat',
  'netflow9_test_cisco_asa_1_tpl.dat',
  'netflow9_test_cisco_asa_1_data.dat',
  'ipfix_test_mikrotik_tpl.dat',
  'ipfix_test_mikrotik_data258.dat',
  'netflow5.dat',
];

/** How many records the same captures give when decoded directly, in one session. */
function expectedRecords(files: string[]): number {
  const session = createDecoderSession('netflow', false);
  return files.reduce((n, f) => n + session('127.0.0.1', Date.now(), dat(f)).records.length, 0);
}

async function until(check: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function sendUdp(target: string, payloads: Buffer[]): Promise<void> {
  const { host, port } = parseHostPort(target)!;
  const socket = createSocket('udp4');
  for (const p of payloads)
    await new Promise<void>((resolve, reject) => socket.send(p, port, host, (err) => (err ? reject(err) : resolve())));
  socket.close();
}

const attr = (attrs: KeyValue[], key: string) => attrs.find((a) => a.key === key)?.value?.value.value;

for (const path of RECEIVE_PATHS)
  describe(`flow receiver over UDP and TCP (${path.name})`, { skip: path.skip }, () => {
    let receiver: NetflowReceiver;
    let evidence: RecordingEvidence;
    let logs: RecordingConsumer<'logs'>;
    let settings: CreateSettings;
    before(async () => {
      evidence = new RecordingEvidence();
      logs = new RecordingConsumer<'logs'>();
      settings = testSettings('netflow', evidence);
      const config = udpConfig(path, { tcp_endpoint: '127.0.0.1:0', workers: 2 });
      receiver = new NetflowReceiver(settings, config, { logs });
      await receiver.start();
      assert.equal(receiver.udpReceive, path.udpReceive);
    });
    after(() => receiver.shutdown());

    test('vendor captures sent over UDP become evidence and log records', async () => {
      const want = expectedRecords(SEQUENCE);
      assert.ok(want > 0);
      await sendUdp(receiver.addresses.udp[0]!, SEQUENCE.map(dat));
      await until(() => evidence.flows.length >= want, `${want} flows`);
      assert.equal(evidence.flows.length, want);
      assert.ok(evidence.flows.every((f) => f.samplerAddress === '127.0.0.1'));
      const types = new Set(evidence.flows.map((f) => f.type));
      assert.deepEqual([...types].sort(), ['ipfix', 'netflow_v5', 'netflow_v9']);

      await until(() => logs.received.reduce((n, l) => n + l.resourceLogs[0]!.scopeLogs[0]!.logRecords.length, 0) >= want, 'log records');
      const record = logs.received[0]!.resourceLogs[0]!.scopeLogs[0]!.logRecords[0]!;
      for (const key of [
        'source.address',
        'source.port',
        'destination.address',
        'destination.port',
        'network.transport',
        'flow.io.bytes',
        'flow.io.packets',
        'flow.start',
        'flow.end',
        'flow.type',
        'flow.sampler_address',
        'flow.in_if',
        'flow.out_if',
        'flow.next_hop',
        'flow.sampling_rate',
        'flow.tcp_flags',
      ])
        assert.notEqual(attr(record.attributes, key), undefined, `log record has ${key}`);
      assert.equal(await settings.metrics.value('netspan_flow_datagrams_total', { outcome: 'decoded' }), SEQUENCE.length);
    });

    test('IPFIX over TCP, messages split across segments', async () => {
      const before = evidence.flows.length;
      const stream = Buffer.concat([dat('ipfix_test_openbsd_pflow_tpl.dat'), dat('ipfix_test_openbsd_pflow_data.dat')]);
      const want = (() => {
        const s = createDecoderSession('netflow', false);
        return (
          s('127.0.0.1', 0, dat('ipfix_test_openbsd_pflow_tpl.dat')).records.length +
          s('127.0.0.1', 0, dat('ipfix_test_openbsd_pflow_data.dat')).records.length
        );
      })();
      assert.ok(want > 0);
      const { host, port } = parseHostPort(receiver.addresses.tcp!)!;
      const conn = connect(port, host);
      await new Promise<void>((r) => conn.once('connect', () => r()));
      for (let at = 0; at < stream.length; at += 7) conn.write(stream.subarray(at, at + 7));
      await until(() => evidence.flows.length >= before + want, 'TCP flows');
      assert.equal(evidence.flows.length, before + want);
      conn.destroy();
    });

    test('garbage is counted and valid datagrams around it still decode', async () => {
      const before = evidence.flows.length;
      const garbage = [Buffer.from([0, 9, 0, 1]), Buffer.alloc(3), Buffer.from('definitely not netflow'), Buffer.alloc(100, 0xff)];
      const valid = dat('netflow9_test_softflowd_tpl_data.dat');
      await sendUdp(receiver.addresses.udp[0]!, [...garbage, valid]);
      const want = expectedRecords(['netflow9_test_softflowd_tpl_data.dat']);
      await until(() => evidence.flows.length >= before + want, 'the valid datagram');
      assert.ok((await settings.metrics.value('netspan_flow_decode_issues_total')) >= garbage.length);
    });
  });

for (const path of RECEIVE_PATHS)
  describe(`flow receiver without a logs pipeline: records travel packed (${path.name})`, { skip: path.skip }, () => {
    /** The records of the captures decoded directly, as the store gives them back. */
    function expectedFlows(files: string[]): FlowRecord[] {
      const session = createDecoderSession('netflow', false);
      return unpackFlows(packFlows(files.flatMap((f) => session('127.0.0.1', Date.now(), dat(f)).records)));
    }

    test('the sink gets packed batches with the same flows', async () => {
      const evidence = new RecordingEvidence();
      const settings = testSettings('netflow/packed', evidence);
      const config = udpConfig(path, { workers: 1 });
      const receiver = new NetflowReceiver(settings, config, {});
      await receiver.start();
      try {
        const want = expectedFlows(SEQUENCE);
        assert.equal(want.length, expectedRecords(SEQUENCE));
        await sendUdp(receiver.addresses.udp[0]!, SEQUENCE.map(dat));
        await until(() => evidence.flows.length >= want.length, `${want.length} flows`);
        assert.ok(evidence.packedBatches > 0);
        // Export times aside (they come from the receive time for some formats), the same records.
        const strip = (r: FlowRecord) => ({ ...r, exportTimeUnixNano: 0n });
        assert.deepEqual(evidence.flows.map(strip), want.map(strip));
        assert.equal(await settings.metrics.value('netspan_flow_records_total'), want.length);
      } finally {
        await receiver.shutdown();
      }
    });

    test('into the evidence hub: rows go straight into the memory store', async () => {
      const metrics = new SelfMetrics();
      const hub = new EvidenceHub(evidenceConfigSchema.parse({ flows: { retention: '1000000h' } }), metrics, silentLogger());
      const settings = { ...testSettings('netflow/hub', hub), metrics };
      const config = udpConfig(path, { workers: 2 });
      const receiver = new NetflowReceiver(settings, config, {});
      await receiver.start();
      try {
        const want = expectedRecords(SEQUENCE);
        await sendUdp(receiver.addresses.udp[0]!, SEQUENCE.map(dat));
        const deadline = Date.now() + 10_000;
        while ((await hub.flows.stats()).inserted + (await hub.flows.stats()).refused < want && Date.now() < deadline)
          await new Promise((r) => setTimeout(r, 20));
        const stats = await hub.flows.stats();
        assert.equal(stats.inserted + stats.refused, want);
        assert.equal(stats.flows, stats.inserted); // the retention keeps even the 2015 captures
      } finally {
        await receiver.shutdown();
        await hub.close();
      }
    });
  });

for (const path of RECEIVE_PATHS)
  describe(`flow receiver into the evidence hub, many batches (${path.name})`, { skip: path.skip }, () => {
    test('rows decoded straight into reused buffers are the flows the object decoder gives, batch after batch', async () => {
      const metrics = new SelfMetrics();
      const hub = new EvidenceHub(evidenceConfigSchema.parse({ flows: { retention: '1000000h' } }), metrics, silentLogger());
      const reference = new MemoryFlowStore({ retentionMs: 1_000_000 * 3_600_000 });
      const settings = { ...testSettings('netflow/hub-waves', hub), metrics };
      const config = udpConfig(path, { workers: 2 });
      const receiver = new NetflowReceiver(settings, config, {});
      await receiver.start();
      try {
        const payloads = benchPayloads('softflowd-v9.pcap');
        const session = createDecoderSession('netflow', false);
        const records = payloads.flatMap((p) => session('127.0.0.1', Date.now(), p).records);
        const waves = 4;
        for (let w = 0; w < waves; w++) {
          reference.insert(records);
          // in slices, so that the receiver makes many batches and buffers go back and forth
          for (let i = 0; i < payloads.length; i += 16)
            await sendUdp(
              receiver.addresses.udp[0]!,
              payloads.slice(i, i + 16).map((p) => Buffer.from(p)),
            );
          await until(
            () => hub.flows instanceof MemoryFlowStore && hub.flows.statsSync().inserted >= records.length * (w + 1),
            `wave ${w}`,
          );
        }
        const store = hub.flows as MemoryFlowStore;
        assert.equal(store.statsSync().inserted, records.length * waves);
        for (const r of records.filter((_, i) => i % 7 === 0)) {
          const query = {
            sourceAddress: r.sourceAddress,
            sourcePort: r.sourcePort,
            destinationAddress: r.destinationAddress,
            destinationPort: r.destinationPort,
            protocol: r.protocol,
            fromUnixNano: r.startUnixNano,
            toUnixNano: r.endUnixNano,
            bothDirections: true,
          };
          assert.deepEqual(store.querySync(query), reference.querySync(query));
        }
      } finally {
        await receiver.shutdown();
        await hub.close();
      }
    });
  });

for (const path of RECEIVE_PATHS)
  describe(`flow receiver allow-list (${path.name})`, { skip: path.skip }, () => {
    test('exporters outside the allow-list are dropped and counted', async () => {
      const evidence = new RecordingEvidence();
      const settings = testSettings('netflow/allow', evidence);
      const config = udpConfig(path, { workers: 1, allowed_exporters: ['192.0.2.0/24', '2001:db8::/32'] });
      const receiver = new NetflowReceiver(settings, config, {});
      await receiver.start();
      try {
        await sendUdp(receiver.addresses.udp[0]!, [dat('netflow5.dat'), dat('netflow5.dat')]);
        const deadline = Date.now() + 5_000;
        while ((await settings.metrics.value('netspan_flow_datagrams_total', { outcome: 'denied' })) < 2 && Date.now() < deadline)
          await new Promise((r) => setTimeout(r, 20));
        assert.equal(await settings.metrics.value('netspan_flow_datagrams_total', { outcome: 'denied' }), 2);
        assert.equal(evidence.flows.length, 0);
      } finally {
        await receiver.shutdown();
      }
    });

    test('config rejects malformed prefixes with the path', () => {
      const r = netflowReceiverConfigSchema.safeParse({ allowed_exporters: ['10.0.0.0/33', 'nope'] });
      assert.equal(r.success, false);
      assert.deepEqual(
        r.error!.issues.map((i) => i.path.join('.')),
        ['allowed_exporters.0', 'allowed_exporters.1'],
      );
    });
  });

for (const path of RECEIVE_PATHS)
  describe(`flow receiver datagram handling (${path.name})`, { skip: path.skip }, () => {
    /** A started receiver on one UDP endpoint; `fn` runs against it, then it is shut down. */
    async function withReceiver(
      options: Record<string, unknown>,
      fn: (receiver: NetflowReceiver, evidence: RecordingEvidence, settings: CreateSettings) => Promise<void>,
    ): Promise<void> {
      const evidence = new RecordingEvidence();
      const settings = testSettings(`netflow/${path.name}`, evidence);
      const config = udpConfig(path, { workers: 2, ...options });
      const receiver = new NetflowReceiver(settings, config, {});
      await receiver.start();
      assert.equal(receiver.udpReceive, path.udpReceive);
      try {
        await fn(receiver, evidence, settings);
      } finally {
        await receiver.shutdown();
      }
    }
    const outcome = (settings: CreateSettings, o: string) => settings.metrics.value('netspan_flow_datagrams_total', { outcome: o });

    test('datagrams over max_datagram_size are dropped and counted as truncated; smaller ones decode', async () => {
      const big = dat('netflow5.dat');
      const small = dat('netflow9_test_softflowd_tpl_data.dat');
      assert.ok(big.length > 1024 && small.length <= 1024);
      await withReceiver({ endpoints: ['127.0.0.1:0'], max_datagram_size: 1024 }, async (receiver, evidence, settings) => {
        await sendUdp(receiver.addresses.udp[0]!, [big, small, big]);
        const want = expectedRecords(['netflow9_test_softflowd_tpl_data.dat']);
        await until(() => evidence.flows.length >= want, 'the small datagram');
        const deadline = Date.now() + 5_000;
        while ((await outcome(settings, 'truncated')) < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
        assert.equal(await outcome(settings, 'truncated'), 2);
        assert.equal(await outcome(settings, 'decoded'), 1);
        assert.equal(evidence.flows.length, want);
      });
    });

    test('an IPv6 exporter: flows carry its address; allowed by the allow-list', async () => {
      await withReceiver({ endpoints: ['[::1]:0'], allowed_exporters: ['::1'] }, async (receiver, evidence, settings) => {
        const { port } = parseHostPort(receiver.addresses.udp[0]!)!;
        const socket = createSocket('udp6');
        await new Promise<void>((resolve, reject) =>
          socket.send(dat('netflow5.dat'), port, '::1', (err) => (err ? reject(err) : resolve())),
        );
        socket.close();
        const want = expectedRecords(['netflow5.dat']);
        await until(() => evidence.flows.length >= want, 'the v5 flows');
        assert.ok(evidence.flows.every((f) => f.samplerAddress === '::1'));
        assert.equal(await outcome(settings, 'denied'), 0);
      });
    });

    test('several exporters over two workers: each exporter keeps its templates (template and data in separate datagrams)', async () => {
      await withReceiver({ endpoints: ['127.0.0.1:0'] }, async (receiver, evidence, settings) => {
        const { host, port } = parseHostPort(receiver.addresses.udp[0]!)!;
        const files = ['netflow9_test_cisco_asa_1_tpl.dat', 'netflow9_test_cisco_asa_1_data.dat'];
        const exporters = ['127.0.0.1', '127.0.0.2', '127.0.0.3', '127.0.0.4', '127.0.0.5', '127.0.0.6'];
        for (const address of exporters) {
          // a new source port for each datagram: templates are per exporter address, not per port
          for (const f of files) {
            const socket = createSocket('udp4');
            await new Promise<void>((resolve) => socket.bind(0, address, () => resolve()));
            await new Promise<void>((resolve, reject) => socket.send(dat(f), port, host, (err) => (err ? reject(err) : resolve())));
            socket.close();
          }
        }
        const want = expectedRecords(files) * exporters.length;
        await until(() => evidence.flows.length >= want, `${want} flows`);
        assert.equal(evidence.flows.length, want);
        assert.deepEqual([...new Set(evidence.flows.map((f) => f.samplerAddress))].sort(), exporters);
        assert.equal(await settings.metrics.value('netspan_flow_decode_issues_total', { code: 'MISSING_TEMPLATE' }), 0);
      });
    });

    test('a full queue (queue_size) drops datagrams, counted: every datagram sent is decoded or dropped_queue_full', async () => {
      const datagram = dat('netflow5.dat');
      const perDatagram = expectedRecords(['netflow5.dat']);
      const sent = 300;
      await withReceiver({ endpoints: ['127.0.0.1:0'], queue_size: 1 }, async (receiver, evidence, settings) => {
        await sendUdp(
          receiver.addresses.udp[0]!,
          Array.from({ length: sent }, () => datagram),
        );
        const accounted = async () => (await outcome(settings, 'decoded')) + (await outcome(settings, 'dropped_queue_full'));
        const deadline = Date.now() + 10_000;
        while ((await accounted()) < sent && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
        assert.equal(await accounted(), sent);
        assert.equal(evidence.flows.length, (await outcome(settings, 'decoded')) * perDatagram);
      });
    });

    test('shutdown: what was received is delivered, nothing is lost, the port is free again', async () => {
      let address = '';
      await withReceiver({ endpoints: ['127.0.0.1:0'] }, async (receiver, evidence, settings) => {
        address = receiver.addresses.udp[0]!;
        await sendUdp(address, SEQUENCE.map(dat));
        await until(() => evidence.flows.length >= expectedRecords(SEQUENCE), 'the flows');
        await receiver.shutdown();
        assert.equal(await outcome(settings, 'lost_at_shutdown'), 0);
        assert.equal(await outcome(settings, 'decoded'), SEQUENCE.length);
        await receiver.shutdown(); // twice is harmless
      });
      const { host, port } = parseHostPort(address)!;
      const socket = createSocket('udp4');
      await new Promise<void>((resolve, reject) => {
        socket.once('error', reject);
        socket.bind(port, host, () => resolve());
      });
      socket.close();
    });
  });
