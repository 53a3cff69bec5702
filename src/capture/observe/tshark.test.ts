/**
 * The kernel-generated IOAM captures against TShark's own dissection of them (`tshark -T json -J ipv6`,
 * the captures' tshark/ folder), field by field: the IPv6 header and Hop-by-Hop header, every option
 * (type, length, offset), the IOAM header, the trace header with each flag and trace-type bit, the
 * free space, and every node field TShark shows (both copies of the hop limit when bits 0 and 8 are
 * set). EXPECTED.json holds a flattened subset of the same dissection; this reads TShark's full tree.
 *
 * Where we differ from TShark 4.0, on purpose (each asserted below):
 *  - Unavailable values (all ones, RFC 9197 section 4.4.2) are null here, the raw 0xff.. there.
 *  - TShark numbers nodes in packet order (Node 1 = the last hop); ours are in path order (first hop first).
 *  - A trace type with only bit 22 has node length 0: TShark calls that invalid and leaves the data
 *    uninterpreted (opt_unknown_data); RFC 9197 allows it (the node length excludes the opaque state
 *    snapshot), so we decode the snapshots, and check them against TShark's raw bytes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { readPcap } from '../pcap/index.js';
import { decodePacket } from '../decode/index.js';
import { decodeIoamOptions, type IoamNode } from '../ioam/index.js';
import { hex } from '../testkit.test.util.js';
import { IOAM_DIR, TSHARK_NODE_FIELD, skipWithoutShared as skip, tsharkValue } from './kernel-ioam.test.util.js';
import { PacketObserver } from './observer.js';

type Tree = { [key: string]: string | string[] | Tree | Tree[] };

const NODE_PREFIX = 'ipv6.opt.ioam.trace.node.';

/** Every (key, value) pair under `t` whose key starts with `prefix`, depth first, duplicates kept. */
function fields(t: Tree, prefix: string, out: [string, string][] = []): [string, string][] {
  for (const [k, v] of Object.entries(t)) {
    if (typeof v === 'string') {
      if (k.startsWith(prefix)) out.push([k.slice(prefix.length), v]);
    } else if (Array.isArray(v)) {
      for (const x of v) if (typeof x === 'object') fields(x, prefix, out);
    } else fields(v, prefix, out);
  }
  return out;
}

const asArray = <T>(v: T | T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);
const num = (v: unknown): number => Number(v as string);
const colonHex = (s: string | undefined): string => (s ?? '').replace(/:/g, '');
const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/** A node's bytes as on the wire: only the snapshot part (bit-22-only traces have nothing else). */
function ossBytes(n: IoamNode): string {
  const s = n.opaque_state_snapshot!;
  const scid = s.schema_id ?? 0xffffff;
  return toHex(Uint8Array.of(s.length, scid >> 16, (scid >> 8) & 0xff, scid & 0xff)) + toHex(s.data);
}

test('every kernel-generated IOAM capture agrees with TShark, field by field', { skip }, () => {
  const files = readdirSync(join(IOAM_DIR, 'tshark')).filter((f) => f.endsWith('.tshark.json'));
  assert.equal(files.length, 44);
  let packets = 0;
  let nodeFields = 0;
  for (const file of files) {
    const dissected = JSON.parse(readFileSync(join(IOAM_DIR, 'tshark', file), 'utf8')) as { _source: { layers: Tree } }[];
    const capture = readPcap(new Uint8Array(readFileSync(join(IOAM_DIR, 'pcap', file.replace('.tshark.json', '.pcap')))));
    assert.equal(capture.packets.length, dissected.length, file);
    const observer = new PacketObserver();
    dissected.forEach((frame, index) => {
      const where = `${file} #${index + 1}`;
      const packet = capture.packets[index]!;
      const ip = frame._source.layers.ipv6 as Tree;
      const d = decodePacket(packet.data, packet.linkType);
      assert.deepEqual(d.issues, [], where);
      assert.equal(d.sourceAddress, ip['ipv6.src'], where);
      assert.equal(d.destinationAddress, ip['ipv6.dst'], where);
      assert.equal(d.ttl, num(ip['ipv6.hlim']), where);
      assert.equal(d.ipTotalLength - 40, num(ip['ipv6.plen']), where);
      const hbh = ip['ipv6.hopopts'] as Tree;
      assert.equal(d.protocol, num(hbh['ipv6.hopopts.nxt']), where);
      const o = d.hopByHopOptions!;
      assert.equal(o.length + 2, num(hbh['ipv6.hopopts.len_oct']), where);

      const { traces, issues } = decodeIoamOptions(o);
      assert.equal(traces.length, 1, where);
      const t = traces[0]!;
      // The options in order: our trace sits where TShark's IOAM option is.
      let at = 0;
      let ioam: Tree | undefined;
      for (const opt of asArray(hbh['ipv6.opt'] as Tree | Tree[])) {
        const type = num(opt['ipv6.opt.type']);
        assert.equal(o[at], type, `${where}: option type at ${at}`);
        if (type === 0) {
          at += 1;
          continue;
        }
        assert.equal(o[at + 1], num(opt['ipv6.opt.length']), `${where}: option length at ${at}`);
        if (type === 0x31) {
          assert.equal(t.offset, at, where);
          ioam = opt;
        }
        at += 2 + o[at + 1]!;
      }
      assert.equal(at, o.length, `${where}: options fill the header`);
      assert.ok(ioam, where);
      assert.equal(o[t.offset + 2], num(ioam['ipv6.opt.ioam.rsv']), where);
      assert.equal(t.ioamOptionType, num(ioam['ipv6.opt.ioam.opt_type']), where);

      const trace = ioam['Pre-allocated Trace'] as Tree;
      const h = t.offset + 4;
      const f = (k: string) => trace[`ipv6.opt.ioam.trace.${k}`] as string;
      const flagTree = trace['ipv6.opt.ioam.trace.flags_tree'] as Tree;
      const flag = (k: string) => num(flagTree[`ipv6.opt.ioam.trace.flag.${k}`]);
      assert.equal(t.namespaceId, num(f('ns')), where);
      assert.equal(t.nodeLength, num(f('nodelen')), where);
      assert.equal(t.flags, num(f('flags')), where);
      // Overflow, Loopback and Active (RFC 9197, RFC 9322) and the reserved bit.
      assert.deepEqual(
        [t.overflow, (t.flags >> 2) & 1, (t.flags >> 1) & 1, t.flags & 1],
        [flag('o') === 1, flag('l'), flag('a'), flag('rsv')],
        where,
      );
      assert.equal(t.remainingLength, num(f('remlen')), where);
      assert.equal(t.traceType, Number(f('type')), where);
      const typeTree = trace['ipv6.opt.ioam.trace.type_tree'] as Tree;
      const bit = (n: number) => (t.traceType >> (23 - n)) & 1;
      for (const n of [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 22])
        assert.equal(bit(n), num(typeTree[`ipv6.opt.ioam.trace.type.bit${n}`]), `${where}: trace type bit ${n}`);
      assert.equal((t.traceType >> 2) & 0x3ff, num(typeTree['ipv6.opt.ioam.trace.type.undef']), where);
      assert.equal(bit(23), num(typeTree['ipv6.opt.ioam.trace.type.rsv']), where);
      assert.equal(o[h + 7], num(f('rsv')), where);
      assert.deepEqual(
        issues.map((i) => i.code),
        t.overflow ? ['OVERFLOW'] : [],
        where,
      );

      const data = trace['Trace Data'] as Tree | undefined;
      const unknown = ioam['ipv6.opt_unknown_data'] as string | undefined;
      if (t.nodeLength === 0) {
        // TShark 4.0 refuses node length 0 (bit 22 only) and dumps the data area raw: free space, then the snapshots in packet order.
        assert.ok(data === undefined && unknown !== undefined, where);
        const raw = colonHex(unknown);
        assert.equal(raw.slice(0, t.remainingLength * 8), '00'.repeat(t.remainingLength * 4), `${where}: free space`);
        assert.equal(raw.slice(t.remainingLength * 8), [...t.nodes].reverse().map(ossBytes).join(''), `${where}: snapshots`);
      } else {
        assert.equal(unknown, undefined, where);
        const free = colonHex(data?.['ipv6.opt.ioam.trace.free_space'] as string | undefined);
        assert.equal(free, '00'.repeat(t.remainingLength * 4), `${where}: free space`);
        const tsharkNodes = Object.entries(data ?? {})
          .filter(([k]) => k.startsWith('Node '))
          .map(([k, v]) => [num(k.slice(5)), v as Tree] as const)
          .sort((a, b) => a[0] - b[0]);
        assert.equal(tsharkNodes.length, t.nodes.length, `${where}: node count`);
        tsharkNodes.forEach(([n, tree]) => {
          const ours = t.nodes[t.nodes.length - n]!; // TShark's Node 1 is the last hop
          const seen = new Set<string>();
          for (const [key, text] of fields(tree, NODE_PREFIX)) {
            nodeFields++;
            if (key.startsWith('oss.')) continue;
            const [name, width] = TSHARK_NODE_FIELD[key] ?? assert.fail(`${where}: unmapped TShark field ${key}`);
            assert.equal(ours[name], tsharkValue(text, width), `${where} node ${n}: ${key}`);
            seen.add(name);
          }
          // Nothing of ours that TShark does not show (the snapshot is checked below).
          assert.deepEqual(
            Object.keys(ours).filter((k) => k !== 'opaque_state_snapshot' && !seen.has(k)),
            [],
            `${where} node ${n}`,
          );
          const oss = Object.fromEntries(fields(tree, `${NODE_PREFIX}oss.`));
          if (ours.opaque_state_snapshot) {
            const s = ours.opaque_state_snapshot;
            assert.equal(s.length, num(oss.len), where);
            assert.equal(s.schema_id ?? 0xffffff, num(oss.scid), where);
            assert.deepEqual(s.data, hex(oss.data ?? ''), where);
          } else assert.deepEqual(oss, {}, where);
        });
      }

      // The observer says the same of the packet.
      const observed = observer.observe(packet.data, packet.linkType, packet.timestampUnixNano, '');
      assert.equal(observed.length, 1, where);
      const obs = observed[0]!;
      assert.ok(obs.kind === 'ioam');
      assert.deepStrictEqual(
        [obs.sourceAddress, obs.destinationAddress, obs.protocol, obs.namespaceId, obs.traceType, obs.overflow, obs.nodes],
        [ip['ipv6.src'], ip['ipv6.dst'], 58, t.namespaceId, t.traceType, t.overflow, t.nodes],
        where,
      );
      packets++;
    });
  }
  assert.equal(packets, 52);
  assert.ok(nodeFields > 300, `${nodeFields} node fields compared`);
});
