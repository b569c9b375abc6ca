/**
 * The one place the dispatcher reaches into dns/wire (the shared fast parser and builder), so a
 * change of its entry point touches one line.
 */
export {
  parseQuery,
  newQuery,
  skipName,
  MessageBuilder,
  patchReply,
  truncateMessage,
  errorReply as wireErrorReply,
  Flag,
  Rcode,
  RRType,
  RRClass,
  HEADER_SIZE,
  UDP_LIMIT,
  TCP_LIMIT,
  MalformedPacketError,
  EncodeError,
  serveTcpConnection,
} from '../wire/index.js';
export type { Query, ResourceRecord, BadFrame } from '../wire/index.js';
