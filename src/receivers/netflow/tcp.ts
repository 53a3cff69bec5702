/**
 * IPFIX over TCP (RFC 7011 §10.4): a stream of messages, each starting with version 10 and its
 * 16-bit total length. The framer cuts the stream into messages, bounded, and says when the
 * stream is not IPFIX.
 */
export interface FramerResult {
  messages: Uint8Array[];
  /** Set when the stream cannot be framed (wrong version, impossible length): close the connection. */
  error?: string;
}

const IPFIX_HEADER_LENGTH = 16;

export class IpfixStreamFramer {
  private pending: Buffer = Buffer.alloc(0);

  constructor(private readonly maxMessage: number) {}

  push(chunk: Buffer): FramerResult {
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    const messages: Uint8Array[] = [];
    let at = 0;
    while (this.pending.length - at >= 4) {
      const version = this.pending.readUInt16BE(at);
      const length = this.pending.readUInt16BE(at + 2);
      if (version !== 10) return { messages, error: `version ${version} at stream offset ${at}, want 10 (IPFIX)` };
      if (length < IPFIX_HEADER_LENGTH || length > this.maxMessage)
        return { messages, error: `message length ${length} at stream offset ${at} is impossible` };
      if (this.pending.length - at < length) break;
      // A copy: the worker gets it by transfer, and the socket's buffer is reused.
      messages.push(Uint8Array.prototype.slice.call(this.pending, at, at + length));
      at += length;
    }
    this.pending = this.pending.subarray(at);
    return { messages };
  }
}
