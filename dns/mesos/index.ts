// Public API of dns/mesos: Mesos-DNS, drop-in for mesosphere/mesos-dns v0.7.
export { MesosDns } from './mesosdns.js';
export type { MesosDnsOptions } from './mesosdns.js';
export { mesosDnsMasterPlugin, pluginConfig, PLUGIN_DEFAULTS } from './plugin.js';
export type { MesosDnsPluginOptions } from './plugin.js';
export { Poller, httpFetchState } from './poller.js';
export type { PollerOptions, FetchState } from './poller.js';
export { parseConfig, loadConfig, defaultConfig, redactedConfig } from './config.js';
export type { MesosDnsConfig } from './config.js';
export { generateRecords } from './generator.js';
export type { GeneratorConfig } from './generator.js';
export { RecordSet } from './recordset.js';
export { parseState, StateError } from './state.js';
export { rfc952, rfc1123, domainFrag } from './labels.js';
export { hashString } from './hash.js';
export { VERSION as MESOS_DNS_VERSION } from './api.js';
