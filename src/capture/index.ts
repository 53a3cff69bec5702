/** Capture: pcap/pcapng reading (./pcap) and packet header decoding (./decode). */
export * from './pcap/index.js';
export * from './decode/index.js';
