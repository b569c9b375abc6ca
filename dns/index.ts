// Public interface of dns/: Mesos-DNS (dns/mesos), the node dispatcher (dns/dispatcher) and the
// diagnostics DNS client (dns/query.ts, behind `sextant dns query`).
// Each subfolder has its own index.ts; re-export them here once they exist.
export {};
export * from './mesos/index.js';
export * from './dispatcher/index.js';
export { DnsQueryError, queryDns, formatRecord, formatServer, type DnsQuery, type DnsRecord, type DnsReply, type DnsServerAddress } from './query.js';
