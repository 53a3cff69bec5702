/**
 * Fast protobuf codec for the OTLP traces and logs requests: hand-written decoders and
 * encoders that produce and consume the same protobuf-es message objects as fromBinary and
 * toBinary, several times faster. Metrics still go through protobuf-es.
 */
export { decodeTraceRequest, decodeLogsRequest } from './decode.js';
export { encodeTraceRequest, encodeLogsRequest, ENCODE_ERROR_CODE } from './encode.js';
export { DECODE_ERROR_CODE, MAX_MESSAGE_DEPTH } from './reader.js';
