/**
 * Cross-Layer Telemetry: an outgoing TCP connection carries, in every packet it sends, an IOAM
 * pre-allocated trace and the trace context of the span that made it (see ./hbh.ts for the
 * bytes), so IOAM data collected on the path can be joined to that span.
 *
 * The options are set with setsockopt(IPV6_HOPOPTS) on the socket's file descriptor through the
 * native addon. The descriptor comes from the socket's libuv handle: `socket._handle.fd`
 * (Node-internal but long-standing; -1 until libuv creates the OS socket). For a client libuv
 * creates it in the same call that connects, so JavaScript cannot set options between the two,
 * unless the connection is made with a `localAddress` (e.g. '::'): then the socket is created by
 * bind() just before Node emits 'connectionAttempt', where enable() sets the options, and the SYN
 * carries them too. Otherwise they are set on 'connect', ahead of the socket's other 'connect'
 * listeners (a TLS socket writes its ClientHello in one), and the data segments carry them.
 *
 * CLT is best effort: when the addon is missing, the connection is not IPv6, or the process
 * lacks CAP_NET_RAW (which IPV6_HOPOPTS needs), enable() reports why through `warn` (once per
 * reason and warn function) and changes nothing: the connection works as without CLT.
 */
import type { Socket } from 'node:net';
import { nativeAvailable, setHopByHopOptions } from '../native/index.js';
import { CltOptionsError, HopByHopOptionsTemplate } from './hbh.js';

export {
  buildHopByHopOptions,
  decodeTraceContextOption,
  HopByHopOptionsTemplate,
  CltOptionsError,
  DEFAULT_TRACE_TYPE,
  IOAM_TRACE_DATA_MAX,
  IPV6_OPTION_TRACE_CONTEXT,
  TRACE_CONTEXT_DATA_LENGTH,
  type HopByHopOptionsInput,
  type TraceContext,
} from './hbh.js';

export interface CltOptions {
  /** IOAM namespace configured on the IOAM nodes of the path. */
  namespaceId: number;
  /** IOAM trace type (default 0xf00000: node id, interfaces, timestamps). */
  traceType?: number;
  /** Nodes the trace has room for (default 4). */
  nodes?: number;
  /** W3C trace flags (default 0x01). */
  traceFlags?: number;
  /** Where the reason CLT is off goes, once per reason (default console.warn). */
  warn?: (message: string) => void;
}

/** Why CLT is off for a socket. */
export type CltOffCode =
  /** The native addon is not built or not supported here. */
  | 'NATIVE_UNAVAILABLE'
  /** The connection is IPv4 (or IPv4-mapped): Hop-by-Hop options are IPv6 only. */
  | 'NOT_IPV6'
  /** setsockopt(IPV6_HOPOPTS) said EPERM: the process lacks CAP_NET_RAW. */
  | 'NO_CAP_NET_RAW'
  /** The ids or options cannot be encoded (CltOptionsError). */
  | 'INVALID_OPTIONS'
  /** The socket is closed, or has no file descriptor (not a TCP socket). */
  | 'NO_SOCKET'
  /** setsockopt failed otherwise. */
  | 'SETSOCKOPT_FAILED';

export type CltResult =
  /** The options are set on the socket. */
  | { status: 'on' }
  /** The socket is still connecting: the options are set when it has a descriptor (problems then go to `warn`). */
  | { status: 'pending' }
  | { status: 'off'; code: CltOffCode; reason: string };

interface SocketState {
  template: HopByHopOptionsTemplate;
  /** This socket's header (a copy of the template's with its ids). */
  options: Buffer;
  traceId: string;
  spanId: string;
  warn: (message: string) => void;
  /** Descriptor the options are set on, -1 while none. */
  appliedFd: number;
  detach: () => void;
}

const sockets = new WeakMap<Socket, SocketState>();
/** The header of each options object (built once: enableHttpClt passes the same object for every request). */
const templates = new WeakMap<CltOptions, HopByHopOptionsTemplate | CltOptionsError>();
const warned = new WeakMap<(message: string) => void, Set<CltOffCode>>();
/** Set once setsockopt said EPERM: the process lacks CAP_NET_RAW, which it cannot gain later. */
let noCapability: string | undefined;

const defaultWarn = (message: string): void => console.warn(message);

function off(code: CltOffCode, reason: string, warn: (message: string) => void): CltResult {
  let seen = warned.get(warn);
  if (!seen) warned.set(warn, (seen = new Set()));
  if (!seen.has(code)) {
    seen.add(code);
    warn(`netspan CLT off: ${reason}`);
  }
  return { status: 'off', code, reason };
}

function templateOf(options: CltOptions): HopByHopOptionsTemplate | CltOptionsError {
  let template = templates.get(options);
  if (!template) {
    try {
      template = new HopByHopOptionsTemplate({
        namespaceId: options.namespaceId,
        traceType: options.traceType,
        nodes: options.nodes ?? 4,
        traceFlags: options.traceFlags,
      });
    } catch (err) {
      if (!(err instanceof CltOptionsError)) throw err;
      template = err;
    }
    templates.set(options, template);
  }
  return template;
}

function socketFd(socket: Socket): number {
  const fd = (socket as unknown as { _handle?: { fd?: unknown } | null })._handle?.fd;
  return typeof fd === 'number' ? fd : -1;
}

function isMapped(address: string | undefined): boolean {
  return address !== undefined && address.toLowerCase().startsWith('::ffff:') && address.includes('.');
}

/** Sets the options on the socket's current descriptor. */
function apply(socket: Socket, state: SocketState): CltResult {
  const fd = socketFd(socket);
  if (fd < 0) return { status: 'pending' };
  if (fd === state.appliedFd) return { status: 'on' };
  if (noCapability) return fail(socket, state, 'NO_CAP_NET_RAW', noCapability);
  try {
    setHopByHopOptions(fd, state.options);
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (code === 'EPERM' || code === 'EACCES') {
      noCapability = 'setting IPv6 Hop-by-Hop options needs CAP_NET_RAW (setsockopt IPV6_HOPOPTS: EPERM)';
      return fail(socket, state, 'NO_CAP_NET_RAW', noCapability);
    }
    // An IPv4 socket has no IPv6 options (ENOPROTOOPT).
    if (code === 'ENOPROTOOPT') return fail(socket, state, 'NOT_IPV6', 'Hop-by-Hop options need an IPv6 connection');
    return fail(socket, state, 'SETSOCKOPT_FAILED', `setsockopt IPV6_HOPOPTS failed: ${(err as Error).message}`);
  }
  state.appliedFd = fd;
  return { status: 'on' };
}

function fail(socket: Socket, state: SocketState, code: CltOffCode, reason: string): CltResult {
  state.detach();
  sockets.delete(socket);
  return off(code, reason, state.warn);
}

/**
 * Makes every packet the TCP socket sends carry an IOAM trace and the trace context
 * (traceId, spanId). Call it right after creating the connection (net.connect / an http Agent's
 * createConnection; with `localAddress: '::'` the SYN carries them too) or on a connected socket.
 * Never throws: when CLT cannot work it returns status 'off', tells `warn` once, and leaves the
 * socket as it is. Enabling again replaces the options.
 */
export function enable(socket: Socket, traceId: string, spanId: string, options: CltOptions): CltResult {
  const warn = options.warn ?? defaultWarn;
  const available = nativeAvailable();
  if (!available.ok) return off('NATIVE_UNAVAILABLE', `the native addon is unavailable: ${available.reason}`, warn);
  if (noCapability) return off('NO_CAP_NET_RAW', noCapability, warn);
  const template = templateOf(options);
  if (template instanceof CltOptionsError) return off('INVALID_OPTIONS', template.message, warn);
  const previous = sockets.get(socket);
  // A keep-alive socket that carries these options already: write the new ids into its header.
  const reused = previous?.template === template ? previous : undefined;
  const hbh = reused?.options ?? Buffer.from(template.bytes);
  if (reused && reused.traceId === traceId && reused.spanId === spanId && reused.appliedFd === socketFd(socket)) return { status: 'on' };
  try {
    template.writeIds(hbh, traceId, spanId);
  } catch (err) {
    // writeIds checks both ids before writing: the socket keeps the header it has.
    if (!(err instanceof CltOptionsError)) throw err;
    return off('INVALID_OPTIONS', err.message, warn);
  }
  if (socket.destroyed) return { status: 'off', code: 'NO_SOCKET', reason: 'the socket is closed' };
  if (socket.remoteFamily === 'IPv4' || isMapped(socket.remoteAddress))
    return off('NOT_IPV6', 'Hop-by-Hop options need an IPv6 connection', warn);
  if (reused) {
    reused.traceId = traceId;
    reused.spanId = spanId;
    reused.warn = warn;
    reused.appliedFd = -1;
    // Connecting: its listeners set the header on the attempt or on connect.
    return apply(socket, reused);
  }

  previous?.detach();
  const state: SocketState = { template, options: hbh, traceId, spanId, warn, appliedFd: -1, detach: () => undefined };
  sockets.set(socket, state);
  const connected = !socket.connecting && socket.remoteAddress !== undefined;
  if (connected) {
    const r = apply(socket, state);
    if (r.status === 'pending') return fail(socket, state, 'NO_SOCKET', 'the socket has no file descriptor');
    return r;
  }
  // Connecting: each attempt may have a new handle (autoSelectFamily); 'connect' settles it.
  const onAttempt = (address: string, _port: number, family: number): void => {
    if (family !== 6 || isMapped(address)) fail(socket, state, 'NOT_IPV6', 'Hop-by-Hop options need an IPv6 connection');
    else apply(socket, state);
  };
  const onConnect = (): void => {
    state.detach();
    if (socket.remoteFamily !== 'IPv6' || isMapped(socket.remoteAddress))
      fail(socket, state, 'NOT_IPV6', 'Hop-by-Hop options need an IPv6 connection');
    else if (apply(socket, state).status === 'pending') fail(socket, state, 'NO_SOCKET', 'the socket has no file descriptor');
  };
  const onClose = (): void => {
    state.detach();
    sockets.delete(socket);
  };
  socket.on('connectionAttempt', onAttempt);
  // First: tls.connect's own 'connect' listener sends the ClientHello at once.
  socket.prependOnceListener('connect', onConnect);
  socket.once('close', onClose);
  state.detach = () => {
    socket.off('connectionAttempt', onAttempt);
    socket.off('connect', onConnect);
    socket.off('close', onClose);
  };
  // Called where the socket exists already (a 'connectionAttempt' listener): set now.
  return apply(socket, state);
}

/**
 * Stops CLT on the socket: packets sent from now on carry no Hop-by-Hop header. Never throws
 * (a socket that is closing may refuse setsockopt; it sends nothing more anyway).
 */
export function disable(socket: Socket): void {
  const state = sockets.get(socket);
  if (!state) return;
  state.detach();
  sockets.delete(socket);
  const fd = socketFd(socket);
  if (state.appliedFd < 0 || fd !== state.appliedFd) return;
  try {
    setHopByHopOptions(fd, null);
  } catch {
    // closing socket: nothing more is sent on it
  }
}
export { enableHttpClt, type HttpCltHandle } from './http.js';
