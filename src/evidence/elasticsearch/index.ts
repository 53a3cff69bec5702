/** The Elasticsearch / OpenSearch flow evidence source (read-only: an existing flow index). */
export * from './config.js';
export { ElasticsearchFlowSource, SearchFailuresError, DEFAULT_HITS_PER_SEARCH, type ElasticsearchFlowSourceOptions } from './source.js';
export { msearchSearches, searchBody, timeClause, sourceFields, TIME_SOURCES, type QuerySettings } from './query.js';
export {
  documentFlows,
  getField,
  mapMsearchResponses,
  matchHits,
  parseTimeNs,
  type MappingSettings,
  type MappingStats,
} from './mapping.js';
