/** The library surface: the collector, its config loading, and the component factories. */
export { Collector, loadConfig } from './core/collector.js';
export { FACTORIES } from './components.js';
export * from './core/errors.js';
export type * from './core/component.js';
export * from './model/otlp.js';
export * as otlpCodec from './wire/otlp/codec.js';
