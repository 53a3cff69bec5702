/**
 * Evidence stores: the FlowStore contract and its in-memory implementation. The conformance
 * suite (conformance.ts) is not exported here since it loads node:test; tests import it directly.
 */
export * from './store.js';
export { canonicalAddress, formatAddress, parseAddress, type AddressFamily } from './address.js';
export { MemoryFlowStore, ROW_BYTES, type MemoryFlowStoreOptions } from './memory/store.js';
export { memoryFlowStoreConfigSchema, MAX_MAX_FLOWS, type MemoryFlowStoreConfig } from './memory/config.js';
