export {
  LINKTYPE,
  CaptureFormatError,
  type CaptureErrorCode,
  type CaptureFormat,
  type CaptureInterface,
  type CaptureTruncation,
  type CapturedPacket,
} from './types.js';
export { CaptureStreamParser, DEFAULT_MAX_BLOCK_LENGTH, readPcap, type CaptureReadResult, type CaptureReaderOptions } from './reader.js';
