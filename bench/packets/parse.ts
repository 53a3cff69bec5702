/**
 * netspan's side of the benchmark, run as its own process by run.ts:
 *
 *   node dist/bench/packets/parse.js --file F --layer read|decode|observe
 *
 * Reads the capture file the way the agent's file source does (1 MiB chunks of a read stream
 * into CaptureStreamParser) on one thread, and per packet:
 *   read     nothing more (the pcap reader alone);
 *   decode   decodePacket (the raw decode layer: link, IPv6 and its extension headers, TCP);
 *   observe  PacketObserver.observe (decode, IOAM traces with every node field, HTTP head
 *            reassembly and parsing, the traceparent of the request in flight).
 * What each layer produced is counted (so the work cannot be optimised away) and printed as one
 * JSON line with the time and CPU of the loop alone (without Node's start-up).
 */
import { createReadStream } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { CaptureStreamParser, decodePacket } from '../../src/capture/index.js';
import { PacketObserver } from '../../src/capture/observe/index.js';
import { FILE_CHUNK_BYTES } from '../../src/agent/file-source.js';
import { parseOptions, runMain } from '../common/cli.js';

export type ParseLayer = 'read' | 'decode' | 'observe';
export const PARSE_LAYERS: readonly ParseLayer[] = ['read', 'decode', 'observe'];

export interface ParseResult {
  layer: ParseLayer;
  packets: number;
  /** Captured packet bytes. */
  bytes: number;
  /** The loop alone: wall time and this process's CPU (all threads, so GC helpers too). */
  wallMs: number;
  cpuMs: number;
  /** decode: packets with an IP header, with Hop-by-Hop options, and the length of every address text (a checksum). */
  ipPackets?: number;
  hopByHopPackets?: number;
  addressChars?: number;
  /** observe: what the observer produced. */
  ioamObservations?: number;
  ioamNodes?: number;
  ioamWithTraceparent?: number;
  httpRequests?: number;
  httpResponses?: number;
  httpWithTraceparent?: number;
  issues?: number;
}

const USAGE = `node dist/bench/packets/parse.js --file F --layer read|decode|observe`;

async function main(): Promise<void> {
  const { values } = parseOptions(USAGE, { file: { type: 'string' }, layer: { type: 'string', default: 'observe' } });
  const layer = values.layer as ParseLayer;
  if (!values.file || !PARSE_LAYERS.includes(layer)) throw new Error(USAGE);
  const r: ParseResult = { layer, packets: 0, bytes: 0, wallMs: 0, cpuMs: 0 };
  const parser = new CaptureStreamParser();
  let onPacket: (data: Uint8Array, linkType: number, time: bigint) => void = () => {};
  let countIssues = () => {};
  if (layer === 'decode') {
    r.ipPackets = r.hopByHopPackets = r.addressChars = 0;
    onPacket = (data, linkType) => {
      const p = decodePacket(data, linkType);
      if (p.ipVersion !== 0) r.ipPackets!++;
      if (p.hopByHopOptions) r.hopByHopPackets!++;
      r.addressChars! += p.sourceAddress.length + p.destinationAddress.length;
    };
  } else if (layer === 'observe') {
    const observer = new PacketObserver();
    r.ioamObservations = r.ioamNodes = r.ioamWithTraceparent = r.httpRequests = r.httpResponses = r.httpWithTraceparent = 0;
    onPacket = (data, linkType, time) => {
      for (const o of observer.observe(data, linkType, time, '')) {
        if (o.kind === 'ioam') {
          r.ioamObservations!++;
          r.ioamNodes! += o.nodes.length;
          if (o.traceparent !== undefined) r.ioamWithTraceparent!++;
        } else {
          if (o.message === 'request') r.httpRequests!++;
          else r.httpResponses!++;
          if (o.traceparent !== undefined) r.httpWithTraceparent!++;
        }
      }
    };
    countIssues = () => {
      r.issues = 0;
      for (const bySource of Object.values(observer.stats.issues)) for (const n of Object.values(bySource)) r.issues += n;
    };
  }
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  for await (const chunk of createReadStream(values.file, { highWaterMark: FILE_CHUNK_BYTES }) as AsyncIterable<Buffer>) {
    parser.push(chunk, (p) => {
      r.packets++;
      r.bytes += p.capturedLength;
      onPacket(p.data, p.linkType, p.timestampUnixNano);
    });
  }
  const truncated = parser.end();
  r.wallMs = Number(process.hrtime.bigint() - t0) / 1e6;
  const cpu = process.cpuUsage(cpu0);
  r.cpuMs = (cpu.user + cpu.system) / 1000;
  if (truncated) throw new Error(`the capture ends inside a packet: ${truncated.message}`);
  countIssues();
  process.stdout.write(`${JSON.stringify(r)}\n`);
}

export const PARSE_PATH = fileURLToPath(import.meta.url);
if (process.argv[1] === PARSE_PATH) runMain(main);
