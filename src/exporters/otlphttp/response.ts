/**
 * How an OTLP/HTTP response is read, per the spec: 2xx carries an Export*ServiceResponse
 * (partial success); 429, 502, 503 and 504 are worth retrying, after Retry-After if given; any
 * other status is final, explained by the google.rpc.Status in the body.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { gunzipSync } from 'node:zlib';
import { fromBinary, fromJson, type DescMessage, type JsonValue } from '@bufbuild/protobuf';
import { NetspanError } from '../../core/errors.js';
import type { Signal } from '../../model/otlp.js';
import { RESPONSE_SCHEMA } from '../../wire/otlp/codec.js';
import { StatusSchema } from '../../wire/otlp/gen/google/rpc/status_pb.js';
import {
  permanentFailure,
  resultFromResponse,
  retryableFailure,
  success,
  type ExportResult,
  type SignalResponse,
} from '../exporterhelper/index.js';

export const RETRYABLE_HTTP_STATUSES: ReadonlySet<number> = new Set([429, 502, 503, 504]);

export interface HttpResponse {
  status: number;
  headers: IncomingHttpHeaders;
  /** As received (possibly gzip-compressed, possibly cut at a size limit). */
  body: Buffer;
}

/** Retry-After in milliseconds: delay-seconds or an HTTP date; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | undefined, now: number): number | undefined {
  if (value === undefined) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

function plainBody(response: HttpResponse): Buffer {
  if (!/\bgzip\b/i.test(response.headers['content-encoding'] ?? '')) return response.body;
  try {
    return gunzipSync(response.body);
  } catch {
    return Buffer.alloc(0);
  }
}

type BodyKind = 'json' | 'protobuf' | 'other';

function bodyKind(headers: IncomingHttpHeaders): BodyKind {
  const type = (headers['content-type'] ?? '').toLowerCase();
  if (type.includes('json')) return 'json';
  if (type.includes('protobuf')) return 'protobuf';
  return 'other';
}

function decodeMessage(schema: DescMessage, kind: BodyKind, body: Buffer): unknown {
  if (kind === 'json') return fromJson(schema, JSON.parse(body.toString('utf8')) as JsonValue, { ignoreUnknownFields: true });
  return fromBinary(schema, body);
}

/** The server's explanation of an error status: google.rpc.Status.message, or a short plain-text body. */
function errorDetail(response: HttpResponse): string {
  const body = plainBody(response);
  if (body.length === 0) return '';
  const kind = bodyKind(response.headers);
  if (kind !== 'other') {
    try {
      return (decodeMessage(StatusSchema, kind, body) as { message: string }).message;
    } catch {
      return '';
    }
  }
  return body.toString('utf8', 0, Math.min(body.length, 512)).replace(/\s+/g, ' ').trim();
}

export function classifyResponse<S extends Signal>(signal: S, response: HttpResponse, now: number): ExportResult {
  const { status } = response;
  if (status >= 200 && status < 300) {
    const body = plainBody(response);
    const kind = bodyKind(response.headers);
    if (body.length === 0 || kind === 'other') return success();
    try {
      return resultFromResponse(signal, decodeMessage(RESPONSE_SCHEMA[signal] as DescMessage, kind, body) as SignalResponse[S]);
    } catch {
      return success(); // the data was accepted; an unreadable response body does not change that
    }
  }
  const detail = errorDetail(response);
  const error = new NetspanError('OTLP_HTTP_STATUS', `HTTP ${status}${detail ? `: ${detail}` : ''}`, { context: { status } });
  if (RETRYABLE_HTTP_STATUSES.has(status)) {
    const retryAfter = response.headers['retry-after'];
    return retryableFailure(error, parseRetryAfter(Array.isArray(retryAfter) ? retryAfter[0] : retryAfter, now));
  }
  return permanentFailure(error);
}
