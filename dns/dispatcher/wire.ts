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
} from '../wire/index.js';
export type { Query, ResourceRecord } from '../wire/index.js';
