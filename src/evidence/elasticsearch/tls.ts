/**
 * Certificate pinning by CA fingerprint, as `certificate_fingerprint` asks (the value
 * Elasticsearch prints at first start: the SHA-256 fingerprint of its HTTP CA).
 *
 * Comparing the fingerprint of a certificate the server merely presents is not enough: a CA
 * certificate is public, and without chain verification anyone can present it next to a
 * certificate of their own. So the pin is used to FIND the CA: a first TLS handshake (no
 * verification, nothing sent) reads the chain the server presents and takes the certificate
 * whose SHA-256 fingerprint matches; the client then connects with that certificate as its
 * only trusted CA, with full verification (signatures, validity, host name), exactly as if it
 * had been given as ca_file.
 */
import { X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import { connect, type PeerCertificate, type DetailedPeerCertificate } from 'node:tls';

/** "AB:CD:..." or "abcd..." → "abcd...". */
export function normalizeFingerprint(fingerprint: string): string {
  return fingerprint.replace(/:/g, '').toLowerCase();
}

/** The PEM text of a DER certificate. */
function pem(der: Buffer): string {
  return new X509Certificate(der).toString();
}

/** The certificates of a presented chain, leaf first, each once. */
function chainOf(leaf: DetailedPeerCertificate): PeerCertificate[] {
  const out: PeerCertificate[] = [];
  const seen = new Set<string>();
  let c: DetailedPeerCertificate | undefined = leaf;
  while (c && c.raw && !seen.has(c.fingerprint256)) {
    seen.add(c.fingerprint256);
    out.push(c);
    c = c.issuerCertificate;
  }
  return out;
}

/**
 * Connects to `url` (https) without verification, finds the presented certificate whose
 * SHA-256 fingerprint is `fingerprint`, and returns it as PEM. Rejects when none matches (the
 * message lists what was presented), on a TLS error, or after `timeoutMs`.
 */
export function fetchPinnedCertificate(url: URL, fingerprint: string, timeoutMs: number): Promise<string> {
  const want = normalizeFingerprint(fingerprint);
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  const port = Number(url.port || 443);
  return new Promise<string>((resolve, reject) => {
    let settled = false;
    const socket = connect({ host, port, rejectUnauthorized: false, ...(isIP(host) ? {} : { servername: host }) });
    const done = (err: Error | undefined, value?: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      if (err) reject(err);
      else resolve(value!);
    };
    const timer = setTimeout(() => done(new Error(`TLS handshake with ${host}:${port} timed out after ${timeoutMs} ms`)), timeoutMs);
    socket.once('error', (err) => done(err));
    socket.once('secureConnect', () => {
      const chain = chainOf(socket.getPeerCertificate(true));
      const match = chain.find((c) => normalizeFingerprint(c.fingerprint256) === want);
      if (match) return done(undefined, pem(match.raw));
      done(
        new Error(
          `no certificate presented by ${host}:${port} has the SHA-256 fingerprint of certificate_fingerprint; presented: ` +
            chain.map((c) => `${c.subject?.CN ?? '?'} ${c.fingerprint256}`).join(', '),
        ),
      );
    });
  });
}
