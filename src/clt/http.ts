/**
 * Cross-Layer Telemetry for Node's HTTP clients in one call: every outgoing request that carries
 * a W3C `traceparent` (the OpenTelemetry http/undici instrumentations put the client span's ids
 * there) gets that span's ids in the Hop-by-Hop options of its connection while it is sent.
 *
 *   import { enableHttpClt } from 'netspan/clt';
 *   enableHttpClt({ namespaceId: 123 });
 *
 * It works with any instrumentation order (it reads the header the instrumentation wrote):
 *  - node:http / node:https: when a request is given its socket (ClientRequest's `onSocket`,
 *    wrapped once, see hookClientRequestSocket), before its head is written; cleared when the
 *    response has ended or the request closed;
 *  - `undici:client:sendHeaders` (fetch / undici): set right before the head is written on the
 *    socket; cleared when the response is complete or the request failed.
 * A keep-alive socket serves one request at a time, so it carries exactly the ids of the request
 * it is sending; concurrent requests use different sockets. A socket that is reused is set
 * anew for each request.
 */
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { ClientRequest } from 'node:http';
import type { Socket } from 'node:net';
import { disable, enable, type CltOptions } from './index.js';

const TRACEPARENT = /^[0-9a-f]{2}-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}/;
const TRACEPARENT_HEADER_LINE = /(?:^|\r\n)traceparent:[ \t]*([^\r\n]*)/i;

/** Ids of a traceparent value, or undefined when it is not one (all-zero ids included). */
function parseTraceparent(value: unknown): { traceId: string; spanId: string } | undefined {
  const text = Array.isArray(value) ? value[0] : value;
  if (typeof text !== 'string') return undefined;
  const m = TRACEPARENT.exec(text.trim().toLowerCase());
  if (!m || /^0+$/.test(m[1]!) || /^0+$/.test(m[2]!)) return undefined;
  return { traceId: m[1]!, spanId: m[2]! };
}

export interface HttpCltHandle {
  /** Stops tagging new requests (sockets already tagged are cleared when their request ends). */
  disable(): void;
}

/** Which request a socket carries the ids of, so a late clear does not undo the next request's. */
const owners = new WeakMap<Socket, object>();

function tag(socket: Socket, owner: object, ids: { traceId: string; spanId: string }, options: CltOptions): void {
  owners.set(socket, owner);
  enable(socket, ids.traceId, ids.spanId, options);
}

function untag(socket: Socket | undefined | null, owner: object): void {
  if (!socket || owners.get(socket) !== owner) return;
  owners.delete(socket);
  disable(socket);
}

type SocketHook = (request: ClientRequest, socket: Socket) => void;
const socketHooks = new Set<SocketHook>();
let originalOnSocket: ((this: ClientRequest, socket: Socket, err?: unknown) => void) | undefined;

/**
 * Calls `hook` when a node:http / node:https request is given its socket: ClientRequest's
 * `onSocket`, which Node calls synchronously (a new or a reused keep-alive socket) and which
 * writes the head only a tick later. Node 20's `http.client.request.start` channel comes after
 * that write on a reused socket, too late for the head's packet; hence this one wrapper,
 * installed once for every handle and removed with the last.
 */
function hookClientRequestSocket(hook: SocketHook): () => void {
  const proto = ClientRequest.prototype as unknown as { onSocket: (this: ClientRequest, socket: Socket, err?: unknown) => void };
  if (!originalOnSocket) {
    const original = proto.onSocket;
    originalOnSocket = original;
    proto.onSocket = function onSocket(this: ClientRequest, socket: Socket, err?: unknown): void {
      if (socket && !err)
        for (const h of socketHooks) {
          try {
            h(this, socket);
          } catch {
            // CLT is best effort: the request goes on as without it.
          }
        }
      original.call(this, socket, err);
    };
  }
  socketHooks.add(hook);
  return () => {
    socketHooks.delete(hook);
    if (socketHooks.size === 0 && originalOnSocket) {
      proto.onSocket = originalOnSocket;
      originalOnSocket = undefined;
    }
  };
}

interface UndiciRequest {
  completed?: boolean;
}

/**
 * Turns CLT on for every HTTP client request of the process that has a traceparent. Requests
 * without one (not instrumented, or not sampled and not propagated) are left alone. CLT stays
 * best effort: where it cannot work, `options.warn` (default console.warn) says why once, and
 * requests are unaffected.
 */
export function enableHttpClt(options: CltOptions): HttpCltHandle {
  /** A request and the socket it will be written on: tag it before Node flushes the head (a tick later). */
  const onRequestSocket = (request: ClientRequest, socket: Socket): void => {
    const ids = parseTraceparent(request.getHeader('traceparent'));
    if (!ids) return;
    tag(socket, request, ids, options);
    // A request closes when its response has ended (just before its keep-alive socket is freed
    // for the next request), or when it failed or was aborted.
    request.once('close', () => untag(socket, request));
  };
  const unhookHttp = hookClientRequestSocket(onRequestSocket);

  const undiciSockets = new WeakMap<object, Socket>();
  const onUndiciSendHeaders = (message: unknown): void => {
    const { request, headers, socket } = message as { request?: UndiciRequest; headers?: unknown; socket?: Socket };
    if (!request || !socket || typeof headers !== 'string') return;
    const m = TRACEPARENT_HEADER_LINE.exec(headers);
    const ids = m ? parseTraceparent(m[1]) : undefined;
    if (!ids) return;
    undiciSockets.set(request, socket);
    tag(socket, request, ids, options);
  };
  const onUndiciDone = (message: unknown): void => {
    const request = (message as { request?: UndiciRequest }).request;
    if (!request) return;
    untag(undiciSockets.get(request), request);
    undiciSockets.delete(request);
  };

  const channels: [string, (message: unknown) => void][] = [
    ['undici:client:sendHeaders', onUndiciSendHeaders],
    ['undici:request:trailers', onUndiciDone],
    ['undici:request:error', onUndiciDone],
  ];
  for (const [name, fn] of channels) subscribe(name, fn);
  return {
    disable() {
      unhookHttp();
      for (const [name, fn] of channels) unsubscribe(name, fn);
    },
  };
}
