/**
 * goflow2's decoder vectors (../shared/data/netflow/goflow2, PROVENANCE.md lists what upstream asserts):
 * the v9 template + 21-record data packet and the 6-flow v5 packet.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeNetflow } from './decode.js';
import { TemplateState } from './templates.js';
import { CTX, GOFLOW_V5, GOFLOW_V9_DATA, GOFLOW_V9_TEMPLATE, readBytes } from './testkit.test.util.js';

describe('goflow2 NetFlow v9 vectors', () => {
  const state = new TemplateState();
  const template = decodeNetflow(readBytes(GOFLOW_V9_TEMPLATE), CTX, state);
  const data = decodeNetflow(readBytes(GOFLOW_V9_DATA), CTX, state);

  test('the template packet defines template 260 with 23 fields for source id 256', () => {
    assert.deepEqual(template.records, []);
    assert.deepEqual(template.issues, []);
    const [plan] = state.templates(CTX.exporter);
    assert.equal(plan?.templateId, 260);
    assert.equal(plan?.domainId, 256);
    assert.deepEqual(
      plan?.fields.map((f) => `${f.def.id}/${f.length}`),
      [
        '2/4',
        '1/4',
        '8/4',
        '12/4',
        '10/4',
        '14/4',
        '21/4',
        '22/4',
        '7/2',
        '11/2',
        '16/4',
        '17/4',
        '18/4',
        '9/1',
        '13/1',
        '4/1',
        '6/1',
        '5/1',
        '61/1',
        '89/1',
        '48/2',
        '234/4',
        '235/4',
      ],
    );
  });

  test('the data packet decodes all 21 records (upstream only checks the first 89 bytes)', () => {
    assert.deepEqual(data.issues, []);
    assert.equal(data.records.length, 21);
    for (const r of data.records) {
      assert.equal(r.sequenceNumber, 838987420);
      assert.equal(r.observationDomainId, 256);
      assert.equal(r.type, 'netflow_v9');
    }
  });

  test('the first record has the values upstream asserts', () => {
    const r = data.records[0];
    assert.ok(r);
    assert.equal(r.packets, 1);
    assert.equal(r.bytes, 1500);
    assert.equal(r.sourceAddress, '198.38.120.222');
    assert.equal(r.destinationAddress, '88.121.217.208');
    assert.equal(r.inputInterface, 354);
    assert.equal(r.outputInterface, 304);
    assert.equal(r.sourcePort, 443);
    assert.equal(r.destinationPort, 15184);
    assert.equal(r.protocol, 6);
    assert.equal(r.tcpFlags, 0x10);
    assert.equal(r.flowDirection, 0);
    assert.equal(r.nextHop, '252.223.0.0'); // BGP_NEXT_HOP: no IPV4_NEXT_HOP in this template
    // LAST/FIRST_SWITCHED 0xb3bfe6f9 relative to header sysUptime 0xb3bff683 and unix secs 0x618aa3a8
    const expected = BigInt(0x618aa3a8) * 1_000_000_000n - BigInt(0xb3bff683 - 0xb3bfe6f9) * 1_000_000n;
    assert.equal(r.startUnixNano, expected);
    assert.equal(r.endUnixNano, expected);
    assert.equal(r.timeResolutionNano, 1e9); // the v9 header time is whole seconds
    assert.deepEqual(
      {
        bgpSourceAsNumber: r.fields?.bgpSourceAsNumber,
        bgpDestinationAsNumber: r.fields?.bgpDestinationAsNumber,
        bgpNextHopIPv4Address: r.fields?.bgpNextHopIPv4Address,
        sourceIPv4PrefixLength: r.fields?.sourceIPv4PrefixLength,
        destinationIPv4PrefixLength: r.fields?.destinationIPv4PrefixLength,
        ipClassOfService: r.fields?.ipClassOfService,
        forwardingStatus: r.fields?.forwardingStatus,
        samplerId: r.fields?.samplerId,
        ingressVRFID: r.fields?.ingressVRFID,
        egressVRFID: r.fields?.egressVRFID,
      },
      {
        bgpSourceAsNumber: 0,
        bgpDestinationAsNumber: 0,
        bgpNextHopIPv4Address: '252.223.0.0',
        sourceIPv4PrefixLength: 24,
        destinationIPv4PrefixLength: 14,
        ipClassOfService: 0,
        forwardingStatus: 64,
        samplerId: 1,
        ingressVRFID: 0x60000002,
        egressVRFID: 0x60000000,
      },
    );
  });

  test('the sequence jump between the two vectors (838987416 + 1 expected, 838987420 seen) is a counted gap', () => {
    assert.equal(state.stats.sequenceGaps, 1);
    assert.equal(state.stats.sequenceLost, 3);
  });
});

describe('goflow2 NetFlow v5 vector', () => {
  test('6 records, the first from input interface 9', () => {
    const out = decodeNetflow(readBytes(GOFLOW_V5), CTX, new TemplateState());
    assert.deepEqual(out.issues, []);
    assert.equal(out.records.length, 6);
    assert.equal(out.records[0]?.inputInterface, 9);
    assert.equal(out.records[0]?.observationDomainId, (8 << 8) | 8); // engine type 8, engine id 8
  });
});
