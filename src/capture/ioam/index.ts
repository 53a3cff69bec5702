export {
  decodeIoamOptions,
  traceTypeNodeLength,
  IOAM_OPTION_TYPE,
  IPV6_OPTION_IOAM,
  type IoamDecodeOptions,
  type IoamDecodeResult,
  type IoamIssue,
  type IoamIssueCode,
  type IoamNode,
  type IoamOpaqueStateSnapshot,
  type IoamTrace,
} from './decode.js';
