// Public interface of dns/: Mesos-DNS (dns/mesos) and the node dispatcher (dns/dispatcher).
// Each subfolder has its own index.ts; re-export them here once they exist.
export {};
export * from './mesos/index.js';
export * from './dispatcher/index.js';
