/**
 * Malformed input: truncated headers and sets, lengths past the end, impossible templates. The decoder
 * never throws; it returns what decoded and an issue saying where parsing stopped, and a bad set does
 * not spoil the good sets around it.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { decodeNetflow, INTERNAL_ERROR_MESSAGE } from './decode.js';
import { TemplateState } from './templates.js';
import {
  Bytes,
  CTX,
  LOGSTASH_DIR,
  datFile,
  decodeSequence,
  ipfixMessage,
  ipfixTemplateRecord,
  set,
  v9OptionsTemplateRecord,
  v9Packet,
  v9TemplateRecord,
  type FieldSpec,
} from './testkit.test.util.js';
import type { DecodeOutput } from './types.js';

const PORTS: FieldSpec[] = [
  { id: 7, length: 2 },
  { id: 11, length: 2 },
];
const header = { exportTime: 1_700_000_000, sequence: 0, domain: 0 };
const ports = (a: number, b: number): Uint8Array => new Bytes().u16(a).u16(b).build();
const codes = (out: DecodeOutput): string[] => out.issues.map((i) => i.code);

function assertSane(out: DecodeOutput, length: number): void {
  for (const i of out.issues) {
    assert.ok(!i.message.startsWith(INTERNAL_ERROR_MESSAGE), i.message);
    assert.ok(Number.isInteger(i.offset) && i.offset >= 0 && i.offset <= length, `offset ${i.offset} outside 0..${length}: ${i.message}`);
  }
}

describe('headers', () => {
  test('empty and one-byte datagrams', () => {
    for (const bytes of [new Uint8Array(0), Uint8Array.from([0])]) {
      const out = decodeNetflow(bytes, CTX, new TemplateState());
      assert.deepEqual(
        out.issues.map((i) => [i.code, i.offset]),
        [['TRUNCATED', 0]],
      );
    }
  });

  test('versions other than 5, 9, 10', () => {
    for (const version of [0, 1, 7, 8, 11, 0xffff]) {
      const out = decodeNetflow(Uint8Array.from([version >> 8, version & 255, 0, 0]), CTX, new TemplateState());
      assert.deepEqual(
        out.issues.map((i) => [i.code, i.context?.version]),
        [['BAD_VERSION', version]],
      );
    }
  });

  test('every truncation of a header', () => {
    for (const [version, size] of [
      [5, 24],
      [9, 20],
      [10, 16],
    ] as const) {
      for (let len = 2; len < size; len++) {
        const bytes = new Uint8Array(len);
        bytes[1] = version;
        const out = decodeNetflow(bytes, CTX, new TemplateState());
        assert.deepEqual(codes(out), ['TRUNCATED'], `v${version} header of ${len} bytes`);
        assert.deepEqual(out.records, []);
      }
    }
  });

  test('IPFIX message length shorter than its header, or longer than the datagram', () => {
    const short = ipfixMessage(header);
    short[3] = 8;
    assert.deepEqual(codes(decodeNetflow(short, CTX, new TemplateState())), ['BAD_LENGTH']);
    const full = ipfixMessage(header, set(2, ipfixTemplateRecord(256, PORTS)), set(256, ports(1, 2), ports(3, 4)));
    const cut = full.subarray(0, full.length - 2); // the second record loses its last 2 bytes
    const out = decodeNetflow(cut, CTX, new TemplateState());
    assert.deepEqual(codes(out), ['TRUNCATED', 'TRUNCATED']); // the message, then its last set
    assert.deepEqual(
      out.records.map((r) => r.sourcePort),
      [1],
    );
  });
});

describe('sets', () => {
  test('a set length below 4 stops the message; the sets before it are kept', () => {
    const out = decodeNetflow(
      ipfixMessage(header, set(2, ipfixTemplateRecord(256, PORTS)), set(256, ports(1, 2)), Uint8Array.from([1, 0, 0, 2])),
      CTX,
      new TemplateState(),
    );
    assert.deepEqual(codes(out), ['BAD_LENGTH']);
    assert.equal(out.records.length, 1);
  });

  test('a bad set does not spoil the good sets around it', () => {
    const out = decodeNetflow(
      ipfixMessage(
        header,
        set(2, ipfixTemplateRecord(256, PORTS)),
        set(256, ports(1, 2)),
        set(5, ports(9, 9)),
        set(999, ports(9, 9)),
        set(256, ports(3, 4)),
      ),
      CTX,
      new TemplateState(),
    );
    assert.deepEqual(codes(out), ['MALFORMED', 'MISSING_TEMPLATE']);
    assert.deepEqual(
      out.records.map((r) => r.sourcePort),
      [1, 3],
    );
  });

  test('a v9 flowset length past the end: the complete records in it are decoded', () => {
    const packet = v9Packet(
      { sysUptime: 0, unixSecs: 1, sequence: 0, sourceId: 0 },
      set(0, v9TemplateRecord(256, PORTS)),
      set(256, ports(1, 2), ports(3, 4)),
    );
    const cut = packet.subarray(0, packet.length - 1);
    const out = decodeNetflow(cut, CTX, new TemplateState());
    assert.deepEqual(
      out.issues.map((i) => [i.code, i.context?.setId]),
      [['TRUNCATED', 256]],
    );
    assert.equal(out.records.length, 1);
  });

  test('a variable-length field running past its set: the records before it are kept', () => {
    const tpl = ipfixTemplateRecord(256, [
      { id: 7, length: 2 },
      { id: 82, length: 65535 },
    ]);
    const good = new Bytes().u16(1).u8(2).bytes([65, 66]).build();
    const bad = new Bytes().u16(2).u8(255).u16(1000).bytes([67]).build();
    const out = decodeNetflow(ipfixMessage(header, set(2, tpl), set(256, good, bad)), CTX, new TemplateState());
    assert.deepEqual(
      out.issues.map((i) => [i.code, i.offset]),
      [['TRUNCATED', 16 + 4 + tpl.length + 4 + good.length]],
    );
    assert.deepEqual(
      out.records.map((r) => r.fields?.interfaceName),
      ['AB'],
    );
  });
});

describe('templates', () => {
  test('field specifiers past the end of the set', () => {
    const tpl = ipfixTemplateRecord(256, PORTS);
    const out = decodeNetflow(ipfixMessage(header, set(2, tpl.subarray(0, tpl.length - 2))), CTX, new TemplateState());
    assert.deepEqual(codes(out), ['TRUNCATED']);
    const enterprise = ipfixTemplateRecord(256, [{ id: 1, length: 4, pen: 9 }]);
    const out2 = decodeNetflow(ipfixMessage(header, set(2, enterprise.subarray(0, enterprise.length - 1))), CTX, new TemplateState());
    assert.deepEqual(codes(out2), ['TRUNCATED']);
  });

  test('only zero-length fields: refused (records would never advance)', () => {
    const state = new TemplateState();
    const v9 = decodeNetflow(
      v9Packet({ sysUptime: 0, unixSecs: 1, sequence: 0, sourceId: 0 }, set(0, v9TemplateRecord(256, [{ id: 8, length: 0 }]))),
      CTX,
      state,
    );
    assert.deepEqual(codes(v9), ['BAD_TEMPLATE']);
    assert.equal(state.stats.badTemplates, 1);
    assert.equal(state.templateCount(), 0);
  });

  test('v9 options template lengths that are not multiples of 4', () => {
    const rec = v9OptionsTemplateRecord(300, [{ id: 1, length: 4 }], [{ id: 34, length: 4 }]);
    rec[3] = 3; // scope length 3
    const out = decodeNetflow(v9Packet({ sysUptime: 0, unixSecs: 1, sequence: 0, sourceId: 0 }, set(1, rec)), CTX, new TemplateState());
    assert.deepEqual(codes(out), ['BAD_TEMPLATE']);
  });

  test('a bad redefinition removes the stale template', () => {
    const state = new TemplateState();
    decodeNetflow(ipfixMessage(header, set(2, ipfixTemplateRecord(256, PORTS))), CTX, state);
    decodeNetflow(ipfixMessage(header, set(2, ipfixTemplateRecord(256, [{ id: 7, length: 0 }]))), CTX, state);
    assert.equal(state.templateCount(), 0);
  });
});

describe('every truncation of every logstash capture', () => {
  const files = readdirSync(join(LOGSTASH_DIR, 'dat')).filter((f) => f.endsWith('.dat'));
  test(`${files.length} files, each cut at every length, with and without its templates known`, () => {
    for (const file of files) {
      const bytes = datFile(file);
      // templates from the whole capture set, so data files are decoded past their template lookups
      const primed = (): TemplateState => {
        const state = new TemplateState();
        decodeSequence(
          files.filter((f) => f.includes('tpl')),
          state,
        );
        return state;
      };
      const full = decodeNetflow(bytes, CTX, primed()).records.length;
      const state = primed();
      for (let len = 0; len <= bytes.length; len++) {
        const out = decodeNetflow(bytes.subarray(0, len), CTX, state);
        assertSane(out, len);
        assert.ok(out.records.length <= full + 64, `${file} cut at ${len}: ${out.records.length} records`);
        decodeNetflow(bytes.subarray(0, len), CTX, new TemplateState());
      }
    }
  });
});
