/**
 * Shared config value types: durations ("2s", "150ms"), byte sizes ("20MiB" or a number),
 * endpoints ("host:port"), and the TLS and bearer-token settings every network edge uses.
 */
import { z } from 'zod';

const DURATION_UNITS: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Parses a Go-style duration ("1m30s", "250ms") into milliseconds; undefined if malformed. */
export function parseDuration(text: string): number | undefined {
  const trimmed = text.trim();
  if (trimmed === '0') return 0;
  let total = 0;
  let rest = trimmed;
  while (rest.length > 0) {
    const m = /^(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/.exec(rest);
    if (!m) return undefined;
    total += Number(m[1]) * DURATION_UNITS[m[2]!]!;
    rest = rest.slice(m[0].length);
  }
  return trimmed.length > 0 ? total : undefined;
}

/** A duration in config: a string with a unit, parsed to milliseconds. */
export const duration = () =>
  z.union([z.string(), z.number()]).transform((v, ctx) => {
    if (typeof v === 'number') {
      if (v === 0) return 0;
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: `duration needs a unit, e.g. "${v}ms" or "${v}s"` });
      return z.NEVER;
    }
    const ms = parseDuration(v);
    if (ms === undefined) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: `"${v}" is not a duration (e.g. 500ms, 2s, 1m30s)` });
      return z.NEVER;
    }
    return ms;
  });

const SIZE_UNITS: Record<string, number> = { '': 1, b: 1, kb: 1e3, mb: 1e6, gb: 1e9, kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3 };

/** A byte size: a whole number of bytes, or a string like "20MiB" / "512kB". */
export const byteSize = () =>
  z.union([z.number().int().nonnegative(), z.string()]).transform((v, ctx) => {
    if (typeof v === 'number') return v;
    const m = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(v.trim());
    const unit = m ? SIZE_UNITS[m[2]!.toLowerCase()] : undefined;
    if (!m || unit === undefined) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: `"${v}" is not a size (e.g. 4194304, 4MiB, 512kB)` });
      return z.NEVER;
    }
    return Math.floor(Number(m[1]) * unit);
  });

export interface HostPort {
  host: string;
  port: number;
}

/** Splits "host:port", "[v6]:port" or ":port"; undefined if it is not one of those. */
export function parseHostPort(text: string): HostPort | undefined {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(text.trim());
  if (!m) return undefined;
  const port = Number(m[3]);
  if (port > 65535) return undefined;
  return { host: m[1] ?? (m[2] || '0.0.0.0'), port };
}

/** A listening or dialling endpoint "host:port" (port 0 picks a free port when listening). */
export const endpoint = () =>
  z.string().refine((v) => parseHostPort(v) !== undefined, {
    message: 'must be host:port (e.g. 127.0.0.1:4318, [::1]:4317, 0.0.0.0:4318)',
  });

/** TLS for a server: certificate and key files; with client_ca_file, clients must present a certificate. */
export const serverTls = () =>
  z
    .object({
      /** PEM certificate chain. */
      cert_file: z.string().min(1),
      /** PEM private key. */
      key_file: z.string().min(1),
      /** PEM CA bundle; when set, client certificates are required and verified (mTLS). */
      client_ca_file: z.string().min(1).optional(),
    })
    .strict();
export type ServerTlsConfig = z.infer<ReturnType<typeof serverTls>>;

/** TLS for a client: trust, optional client certificate, and `insecure` for plain text. */
export const clientTls = () =>
  z
    .object({
      /** Send in plain text (no TLS). The default for http:// endpoints. */
      insecure: z.boolean().optional(),
      /** PEM CA bundle to trust instead of the system's. */
      ca_file: z.string().min(1).optional(),
      /** Client certificate and key, for servers that require mTLS. */
      cert_file: z.string().min(1).optional(),
      key_file: z.string().min(1).optional(),
      /** Skip server certificate verification (testing only). */
      insecure_skip_verify: z.boolean().default(false),
    })
    .strict();
export type ClientTlsConfig = z.infer<ReturnType<typeof clientTls>>;

/** A bearer token a server requires (`Authorization: Bearer <token>`), usually from ${env:...}. */
export const bearerAuth = () =>
  z
    .object({
      /** The token; requests without it get 401 (gRPC UNAUTHENTICATED). */
      token: z.string().min(1),
    })
    .strict();
export type BearerAuthConfig = z.infer<ReturnType<typeof bearerAuth>>;
