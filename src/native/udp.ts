/**
 * UDP receive through the native addon: several sockets bound to one port (SO_REUSEPORT), each
 * read by its own thread with recvmmsg, many datagrams per system call, into buffers allocated
 * once. The group is steered by source address, so one sender always reaches the same socket.
 * Callers check `udpReceiveAvailable()` first; node:dgram is the fallback.
 */
import { formatIPv4, formatIPv6 } from '../capture/decode/address.js';
import { NetspanError } from '../core/errors.js';
import { loadNative, nativeAvailable, nativeError, type NativeAvailability, type NativeUdpReceiveHandle } from './index.js';

/** Whether UDP batch receive can be used: the addon is loaded and was built with it (an addon built from older sources lacks it). */
export function udpReceiveAvailable(): NativeAvailability {
  const available = nativeAvailable();
  if (!available.ok) return available;
  return typeof loadNative().udpReceive === 'function'
    ? available
    : { ok: false, reason: 'the native addon was built without UDP receive (rebuild it: npm run install)' };
}

/** One socket of a group, as the thread that reads it needs it (plain data: it can go to a worker). */
export interface SharedUdpSocket {
  fd: number;
  port: number;
  /** SO_RCVBUF as the kernel granted it (twice the request, capped by net.core.rmem_max). */
  receiveBufferSize: number;
}

/**
 * Opens `count` sockets on host:port (port 0: the first socket's port, for all), steered by
 * source address. The caller owns the fds: closeUdpSockets when done (after the readers stop).
 */
export function openUdpGroup(host: string, port: number, count: number, receiveBufferSize: number): SharedUdpSocket[] {
  const binding = loadNative();
  const sockets: SharedUdpSocket[] = [];
  try {
    for (let i = 0; i < count; i++) sockets.push(binding.udpOpen(host, i === 0 ? port : sockets[0]!.port, receiveBufferSize));
    if (count > 1) binding.udpSteerBySource(sockets[0]!.fd, count);
  } catch (err) {
    closeUdpSockets(sockets);
    throw nativeError(err);
  }
  return sockets;
}

export function closeUdpSockets(sockets: readonly SharedUdpSocket[]): void {
  const binding = loadNative();
  for (const s of sockets) {
    try {
      binding.udpClose(s.fd);
    } catch {
      // Already closed: nothing left to release.
    }
  }
}

/** Bytes of metadata per datagram (see the addon's udpReceive). */
const META_BYTES = 32;
const META_WORDS = META_BYTES / 4;
const META_TRUNCATED = 1;

/**
 * The datagrams of one receive round. Valid only during the callback: the next round writes
 * over the same memory.
 */
export class ReceivedDatagrams {
  /** Datagrams in this round. */
  count = 0;
  private readonly words: Uint32Array;
  /** The last source address seen (family and 4 words) and its text: most rounds come from few senders. */
  private lastKey = new Uint32Array(5);
  private lastText = '';

  constructor(
    readonly data: Uint8Array,
    readonly slotSize: number,
    readonly meta: Uint8Array,
  ) {
    this.words = new Uint32Array(meta.buffer, meta.byteOffset, meta.byteLength / 4);
  }

  /** Whether datagram i was larger than a slot (its bytes are cut off; it must not be decoded). */
  truncated(i: number): boolean {
    return (this.words[i * META_WORDS + 1]! & META_TRUNCATED) !== 0;
  }

  bytes(i: number): Uint8Array {
    const start = i * this.slotSize;
    return this.data.subarray(start, start + this.words[i * META_WORDS]!);
  }

  sourcePort(i: number): number {
    return this.words[i * META_WORDS + 2]! >>> 16;
  }

  /** The source address as node:dgram gives it (dotted quad, RFC 5952 text for IPv6). */
  source(i: number): string {
    const w = this.words;
    const at = i * META_WORDS + 2;
    const family = w[at]! & 0xffff;
    const key = this.lastKey;
    if (
      key[0] === family &&
      key[1] === w[at + 1] &&
      (family === 4 || (key[2] === w[at + 2] && key[3] === w[at + 3] && key[4] === w[at + 4]))
    )
      return this.lastText;
    for (let k = 0; k < 5; k++) key[k] = family === 4 && k > 1 ? 0 : w[at + k]!;
    key[0] = family;
    this.lastText = family === 4 ? formatIPv4(this.meta, (at + 1) * 4) : formatIPv6(this.meta, (at + 1) * 4);
    return this.lastText;
  }
}

export type DatagramRoundHandler = (datagrams: ReceivedDatagrams) => void;

/** The receive buffers of one thread, shared by its readers (a thread runs one callback at a time). */
export class DatagramBuffers {
  readonly round: ReceivedDatagrams;
  constructor(slotSize: number, slots: number) {
    this.round = new ReceivedDatagrams(new Uint8Array(slotSize * slots), slotSize, new Uint8Array(META_BYTES * slots));
  }
}

/** The system call failed on a UDP socket the reader watches. */
export class UdpReceiveError extends NetspanError {
  override readonly name = 'UdpReceiveError';
  constructor(cause: Error) {
    super('UDP_RECEIVE_FAILED', `UDP receive failed: ${cause.message}`, { cause });
  }
}

/**
 * Reads one socket of a group on the calling thread's event loop: on each round `onRound` gets
 * the datagrams, which it must consume before it returns. The fd stays open after `close`.
 */
export class UdpBatchReader {
  private handle: NativeUdpReceiveHandle | undefined;

  constructor(fd: number, buffers: DatagramBuffers, onRound: DatagramRoundHandler, onError: (err: UdpReceiveError) => void) {
    const round = buffers.round;
    try {
      this.handle = loadNative().udpReceive(fd, round.data, round.slotSize, round.meta, (err, count) => {
        if (err) return onError(new UdpReceiveError(nativeError(err)));
        round.count = count;
        onRound(round);
      });
    } catch (err) {
      throw nativeError(err);
    }
  }

  close(): void {
    if (!this.handle) return;
    loadNative().udpReceiveClose(this.handle);
    this.handle = undefined;
  }
}
