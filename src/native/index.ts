/**
 * The native addon (`binding.gyp`, `native/`), built by the package's install script with
 * node-gyp. It is optional: where it could not be built (no compiler, not Linux) the install
 * still succeeds, and callers ask `nativeAvailable()` first and degrade. Loaded lazily, once.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NetspanError } from '../core/errors.js';

/** What the kernel's IOAM6_EVENT_TRACE carries, as the addon hands it over. */
export interface NativeIoamEvent {
  namespaceId: number;
  nodeLength: number;
  /** The 32-bit trace type field as on the wire: the 24-bit trace type, then the reserved byte. */
  traceType: number;
  data: Buffer;
}

/** Opaque handle of an open IOAM event socket. */
export type NativeIoamEventsHandle = { readonly __brand: 'NativeIoamEventsHandle' };

export type NativeIoamEventsCallback = (err: Error | null, events: NativeIoamEvent[], lost: number) => void;

export interface NativeBinding {
  setHopByHopOptions(fd: number, options: Uint8Array | null): void;
  /** Resolves IOAM6, joins ioam6_events, then calls back once per wakeup (lost: messages the kernel dropped). */
  ioamEventsOpen(callback: NativeIoamEventsCallback): NativeIoamEventsHandle;
  ioamEventsClose(handle: NativeIoamEventsHandle): void;
  ioamEventsRef(handle: NativeIoamEventsHandle, ref: boolean): void;
  /** A bound, non-blocking UDP socket with SO_REUSEPORT; the caller owns the fd. */
  udpOpen(host: string, port: number, receiveBufferSize: number): { fd: number; port: number; receiveBufferSize: number };
  /** Steers the fd's SO_REUSEPORT group by source address hash over `sockets` sockets. */
  udpSteerBySource(fd: number, sockets: number): void;
  udpClose(fd: number): void;
  /** Watches fd on this thread's loop; per readable round, recvmmsg into data/meta then callback(null, count). */
  udpReceive(
    fd: number,
    data: Uint8Array,
    slotSize: number,
    meta: Uint8Array,
    callback: (err: Error | null, count: number) => void,
  ): NativeUdpReceiveHandle;
  udpReceiveClose(handle: NativeUdpReceiveHandle): void;
  /** connect(2) on a UDP fd. */
  udpConnect(fd: number, host: string, port: number): void;
  /** sendmmsg of datagrams first..first+count-1 (datagram i: data[offsets[i], offsets[i+1])); returns how many went. */
  udpSendBatch(fd: number, data: Uint8Array, offsets: Uint32Array, first: number, count: number): number;
}

/** Opaque handle of a UDP batch receiver. */
export type NativeUdpReceiveHandle = { readonly __brand: 'NativeUdpReceiveHandle' };

export type NativeAvailability = { ok: true } | { ok: false; reason: string };

/** The addon cannot be used here; `reason` says why (in the message too). */
export class NativeUnavailableError extends NetspanError {
  override readonly name = 'NativeUnavailableError';
  constructor(
    readonly reason: string,
    cause?: unknown,
  ) {
    super('NATIVE_UNAVAILABLE', `native addon unavailable: ${reason}`, { cause });
  }
}

/** A system call in the addon failed: `code` is the errno name (EPERM, EBADF, ...), as in Node's own errors. */
export class NativeSystemError extends NetspanError {
  override readonly name = 'NativeSystemError';
  /** Negative errno, as Node's system errors. */
  readonly errno: number | undefined;
  readonly syscall: string | undefined;
  constructor(cause: Error & { code?: unknown; errno?: unknown; syscall?: unknown }) {
    super(typeof cause.code === 'string' ? cause.code : 'ENATIVE', cause.message, { cause });
    this.errno = typeof cause.errno === 'number' ? cause.errno : undefined;
    this.syscall = typeof cause.syscall === 'string' ? cause.syscall : undefined;
  }
}

/** Where node-gyp puts the addon: build/Release under the package root (the folder with package.json). */
export function addonPath(): string | undefined {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) return join(dir, 'build', 'Release', 'netspan_native.node');
    const up = dirname(dir);
    if (up === dir) return undefined;
    dir = up;
  }
}

let loaded: { binding: NativeBinding } | { error: NativeUnavailableError } | undefined;

function load(): { binding: NativeBinding } | { error: NativeUnavailableError } {
  if (loaded) return loaded;
  if (process.platform !== 'linux') {
    loaded = { error: new NativeUnavailableError(`unsupported platform ${process.platform} (the addon is Linux-only)`) };
    return loaded;
  }
  const path = addonPath();
  if (!path || !existsSync(path)) {
    loaded = {
      error: new NativeUnavailableError(
        'not built (build/Release/netspan_native.node is missing; `npm run install` in the package builds it)',
      ),
    };
    return loaded;
  }
  try {
    // createRequire: ESM cannot import a .node file.
    loaded = { binding: createRequire(import.meta.url)(path) as NativeBinding };
  } catch (err) {
    loaded = { error: new NativeUnavailableError(`cannot load ${path}: ${(err as Error).message.split('\n')[0]}`, err) };
  }
  return loaded;
}

/** Whether the addon can be used here, and if not, why (missing build, unsupported platform, load error). */
export function nativeAvailable(): NativeAvailability {
  const l = load();
  return 'binding' in l ? { ok: true } : { ok: false, reason: l.error.reason };
}

/** The addon; throws NativeUnavailableError when it cannot be used. */
export function loadNative(): NativeBinding {
  const l = load();
  if ('error' in l) throw l.error;
  return l.binding;
}

/** Errors thrown by the addon as NativeSystemError (errno name in `code`), others unchanged. */
export function nativeError(err: unknown): Error {
  if (err instanceof NetspanError) return err;
  if (err instanceof Error && typeof (err as { syscall?: unknown }).syscall === 'string') return new NativeSystemError(err);
  return err instanceof Error ? err : new Error(String(err));
}

/**
 * setsockopt(fd, IPPROTO_IPV6, IPV6_HOPOPTS, options): the sticky Hop-by-Hop options header of
 * an IPv6 socket, every packet it sends carries it. `options` is the whole header (next header,
 * length, options; a multiple of 8 bytes); null or empty removes it. Needs CAP_NET_RAW
 * (NativeSystemError EPERM otherwise); NativeUnavailableError without the addon.
 */
export function setHopByHopOptions(fd: number, options: Uint8Array | null): void {
  const binding = loadNative();
  try {
    binding.setHopByHopOptions(fd, options && options.length > 0 ? options : null);
  } catch (err) {
    throw nativeError(err);
  }
}
