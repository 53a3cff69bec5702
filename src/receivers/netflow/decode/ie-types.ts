/**
 * Abstract data types of information elements (RFC 7012 §3.1, RFC 6313 for the list types), as small
 * integers so the generated registry stays compact and template plans switch on numbers.
 */
export const IeType = {
  octetArray: 0,
  unsigned8: 1,
  unsigned16: 2,
  unsigned32: 3,
  unsigned64: 4,
  signed8: 5,
  signed16: 6,
  signed32: 7,
  signed64: 8,
  float32: 9,
  float64: 10,
  boolean: 11,
  macAddress: 12,
  string: 13,
  dateTimeSeconds: 14,
  dateTimeMilliseconds: 15,
  dateTimeMicroseconds: 16,
  dateTimeNanoseconds: 17,
  ipv4Address: 18,
  ipv6Address: 19,
  basicList: 20,
  subTemplateList: 21,
  subTemplateMultiList: 22,
  /** IANA's unsigned256 (e.g. ipv6ExtensionHeadersFull): kept as raw bytes. */
  unsigned256: 23,
} as const;

export type IeType = (typeof IeType)[keyof typeof IeType];

/** IeType code → its RFC 7012 name. */
export const IE_TYPE_NAMES: readonly string[] = Object.keys(IeType);
