/** Builders for pcap and pcapng files in tests, in either byte order. */
import { concat } from '../testkit.test.util.js';

export interface PcapPacketSpec {
  seconds: number;
  /** Microseconds, or nanoseconds with `nanos`. */
  fraction: number;
  data: Uint8Array;
  originalLength?: number;
}

export function buildPcap(opts: {
  le: boolean;
  nanos?: boolean;
  linkType: number;
  snapLength?: number;
  packets: PcapPacketSpec[];
}): Uint8Array {
  const { le } = opts;
  const header = new Uint8Array(24);
  const h = new DataView(header.buffer);
  h.setUint32(0, opts.nanos ? 0xa1b23c4d : 0xa1b2c3d4, le);
  h.setUint16(4, 2, le);
  h.setUint16(6, 4, le);
  h.setUint32(16, opts.snapLength ?? 262144, le);
  h.setUint32(20, opts.linkType, le);
  const records = opts.packets.map((p) => {
    const r = new Uint8Array(16 + p.data.length);
    const d = new DataView(r.buffer);
    d.setUint32(0, p.seconds, le);
    d.setUint32(4, p.fraction, le);
    d.setUint32(8, p.data.length, le);
    d.setUint32(12, p.originalLength ?? p.data.length, le);
    r.set(p.data, 16);
    return r;
  });
  return concat(header, ...records);
}

const pad4 = (n: number) => (n + 3) & ~3;

/** pcapng blocks in one byte order. */
export class PcapngBuilder {
  private readonly blocks: Uint8Array[] = [];
  constructor(readonly le: boolean) {}

  block(type: number, body: Uint8Array): this {
    const len = 12 + pad4(body.length);
    const b = new Uint8Array(len);
    const d = new DataView(b.buffer);
    d.setUint32(0, type, this.le);
    d.setUint32(4, len, this.le);
    b.set(body, 8);
    d.setUint32(len - 4, len, this.le);
    this.blocks.push(b);
    return this;
  }

  options(opts: { code: number; value: Uint8Array }[]): Uint8Array {
    if (opts.length === 0) return new Uint8Array(0);
    const parts = opts.map(({ code, value }) => {
      const o = new Uint8Array(4 + pad4(value.length));
      const d = new DataView(o.buffer);
      d.setUint16(0, code, this.le);
      d.setUint16(2, value.length, this.le);
      o.set(value, 4);
      return o;
    });
    return concat(...parts, new Uint8Array(4));
  }

  shb(options: { code: number; value: Uint8Array }[] = []): this {
    const body = new Uint8Array(16);
    const d = new DataView(body.buffer);
    d.setUint32(0, 0x1a2b3c4d, this.le);
    d.setUint16(4, 1, this.le);
    d.setUint16(6, 0, this.le);
    d.setBigInt64(8, -1n, this.le);
    return this.block(0x0a0d0d0a, concat(body, this.options(options)));
  }

  idb(spec: { linkType: number; snapLength?: number; tsresol?: number; tsoffset?: bigint; name?: string }): this {
    const body = new Uint8Array(8);
    const d = new DataView(body.buffer);
    d.setUint16(0, spec.linkType, this.le);
    d.setUint32(4, spec.snapLength ?? 0, this.le);
    const opts: { code: number; value: Uint8Array }[] = [];
    if (spec.name !== undefined) opts.push({ code: 2, value: new TextEncoder().encode(spec.name) });
    if (spec.tsresol !== undefined) opts.push({ code: 9, value: Uint8Array.of(spec.tsresol) });
    if (spec.tsoffset !== undefined) {
      const v = new Uint8Array(8);
      new DataView(v.buffer).setBigInt64(0, spec.tsoffset, this.le);
      opts.push({ code: 14, value: v });
    }
    return this.block(1, concat(body, this.options(opts)));
  }

  epb(interfaceId: number, timestamp: bigint, data: Uint8Array, originalLength = data.length, type = 6): this {
    const head = new Uint8Array(20);
    const d = new DataView(head.buffer);
    if (type === 2) {
      d.setUint16(0, interfaceId, this.le);
      d.setUint16(2, 0, this.le);
    } else {
      d.setUint32(0, interfaceId, this.le);
    }
    d.setUint32(4, Number(timestamp >> 32n), this.le);
    d.setUint32(8, Number(timestamp & 0xffffffffn), this.le);
    d.setUint32(12, data.length, this.le);
    d.setUint32(16, originalLength, this.le);
    return this.block(type, concat(head, data, new Uint8Array(pad4(data.length) - data.length)));
  }

  spb(data: Uint8Array, originalLength = data.length): this {
    const head = new Uint8Array(4);
    new DataView(head.buffer).setUint32(0, originalLength, this.le);
    return this.block(3, concat(head, data, new Uint8Array(pad4(data.length) - data.length)));
  }

  bytes(): Uint8Array {
    return concat(...this.blocks);
  }
}
