// Public API of dns/wire: fast DNS wire code shared by Mesos-DNS and the dispatcher.
export { RRType, RRClass, Rcode, Flag, HEADER_SIZE, UDP_LIMIT, TCP_LIMIT, typeName, rcodeName } from './constants.js';
export type { RRTypeName } from './constants.js';
export { MalformedPacketError, EncodeError } from './errors.js';
export { parseQuery, newQuery, skipName } from './query.js';
export type { Query } from './query.js';
export { MessageBuilder, splitName, ipv6Bytes } from './builder.js';
export type { Header, Section } from './builder.js';
export type { ResourceRecord } from './records.js';
export { patchId, patchReply, truncateMessage, errorReply } from './patch.js';
export { readTcpFrames } from './tcp.js';
export type { FrameReader } from './tcp.js';
export { serveTcpConnection, frameFormErr } from './tcp-conn.js';
export type { TcpConnOptions, BadFrame } from './tcp-conn.js';
