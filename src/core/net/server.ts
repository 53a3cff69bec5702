/**
 * What every listening edge shares: binding, TLS material, bearer-token checks and bounded
 * request bodies (limits applied after decompression, so a small gzip bomb cannot expand).
 */
import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type RequestListener, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Server as NetServer } from 'node:net';
import { timingSafeEqual } from 'node:crypto';
import { createGunzip, createInflate, type Gunzip, type Inflate } from 'node:zlib';
import { NetspanError } from '../errors.js';
import { parseHostPort, type BearerAuthConfig, type ServerTlsConfig } from '../config/types.js';

export interface TlsMaterial {
  cert: Buffer;
  key: Buffer;
  ca?: Buffer;
}

export function loadServerTls(tls: ServerTlsConfig): TlsMaterial {
  try {
    return {
      cert: readFileSync(tls.cert_file),
      key: readFileSync(tls.key_file),
      ...(tls.client_ca_file ? { ca: readFileSync(tls.client_ca_file) } : {}),
    };
  } catch (err) {
    throw new NetspanError('TLS_FILES', `cannot read TLS files: ${(err as Error).message}`, { cause: err });
  }
}

export function createHttpOrHttpsServer(handler: RequestListener, tls?: ServerTlsConfig): Server {
  if (!tls) return createHttpServer(handler);
  const m = loadServerTls(tls);
  return createHttpsServer(
    { cert: m.cert, key: m.key, ...(m.ca ? { ca: m.ca, requestCert: true, rejectUnauthorized: true } : {}) },
    handler,
  ) as unknown as Server;
}

/** Listens on a "host:port" endpoint; resolves with the bound address (port 0 picks one). */
export async function listen(server: Server, endpoint: string): Promise<AddressInfo> {
  const hp = parseHostPort(endpoint);
  if (!hp) throw new NetspanError('BAD_ENDPOINT', `bad endpoint "${endpoint}"`);
  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error) =>
      reject(new NetspanError('LISTEN_FAILED', `cannot listen on ${endpoint}: ${err.message}`, { cause: err }));
    server.once('error', onError);
    server.listen(hp.port, hp.host, () => {
      server.off('error', onError);
      resolve();
    });
  });
  return server.address() as AddressInfo;
}

export async function closeServer(server: Server | NetServer): Promise<void> {
  if (!server.listening) return;
  await new Promise<void>((resolve) => {
    server.close(() => resolve());
    // Idle keep-alive sockets would hold an HTTP server's close() open; in-flight requests still finish.
    if ('closeIdleConnections' in server) server.closeIdleConnections();
  });
}

export function formatAddress(a: AddressInfo): string {
  return a.family === 'IPv6' ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`;
}

/** Constant-time check of an `Authorization: Bearer <token>` value. */
export function bearerTokenMatches(auth: BearerAuthConfig | undefined, header: string | undefined): boolean {
  if (!auth) return true;
  if (!header) return false;
  const m = /^Bearer\s+(.+)$/i.exec(header.trim());
  if (!m) return false;
  const got = Buffer.from(m[1]!);
  const want = Buffer.from(auth.token);
  return got.length === want.length && timingSafeEqual(got, want);
}

export class BodyError extends NetspanError {
  override readonly name = 'BodyError';
  constructor(
    code: 'BODY_TOO_LARGE' | 'BODY_ENCODING_UNSUPPORTED' | 'BODY_CORRUPT' | 'BODY_ABORTED',
    message: string,
    readonly status: number,
  ) {
    super(code, message);
  }
}

/**
 * Reads a request body, decompressing gzip or deflate, and stops as soon as the decompressed
 * size passes `limit`: the limit holds for what the body expands to, not what was sent.
 */
export async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const encoding = (req.headers['content-encoding'] ?? 'identity').toLowerCase().trim();
  let decoder: Gunzip | Inflate | undefined;
  if (encoding === 'gzip' || encoding === 'x-gzip') decoder = createGunzip();
  else if (encoding === 'deflate') decoder = createInflate();
  else if (encoding !== 'identity' && encoding !== '' && encoding !== 'none')
    throw new BodyError('BODY_ENCODING_UNSUPPORTED', `unsupported Content-Encoding "${encoding}" (use gzip, deflate or none)`, 415);

  const declared = Number(req.headers['content-length']);
  if (!decoder && Number.isFinite(declared) && declared > limit)
    throw new BodyError('BODY_TOO_LARGE', `body of ${declared} bytes is over the limit of ${limit} bytes`, 413);

  const source: NodeJS.ReadableStream = decoder ? req.pipe(decoder) : req;
  const chunks: Buffer[] = [];
  let size = 0;
  return await new Promise<Buffer>((resolve, reject) => {
    const fail = (err: BodyError) => {
      req.unpipe();
      decoder?.destroy();
      reject(err);
    };
    source.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        source.removeAllListeners('data');
        fail(new BodyError('BODY_TOO_LARGE', `body is over the limit of ${limit} bytes${decoder ? ' after decompression' : ''}`, 413));
        return;
      }
      chunks.push(chunk);
    });
    source.on('end', () => resolve(Buffer.concat(chunks, size)));
    source.on('error', (err: Error) =>
      fail(new BodyError('BODY_CORRUPT', `cannot decompress the body (${encoding}): ${err.message}`, 400)),
    );
    req.on('aborted', () => fail(new BodyError('BODY_ABORTED', 'the client aborted the request', 400)));
  });
}
