// Public interface of the node DNS dispatcher.
export { Dispatcher, type DispatcherOptions } from './dispatcher.js';
export { parseDispatcherConfig, DEFAULT_BIND_IPS, MESOS_DNS_PORT, type DispatcherConfig, type CacheConfig } from './config.js';
export { parseEndpoint, endpoint, type Endpoint } from './endpoint.js';
export { RouteTable, LOCAL_ZONES, type Route } from './routes.js';
export { LocalZones } from './zones.js';
export { AnswerCache } from './cache.js';
export { UpstreamHealth } from './health.js';
export { renderResolvConf, writeIfChanged, probeReady, ResolvConfManager, RESOLV_OPTIONS } from './resolv.js';
export { ensureDummyInterface, type IpRunner } from './iface.js';
export { parseZoneFile, loadZoneFile } from './zone-file.js';
export { dispatcherAgentPlugin, type DispatcherPluginOptions, type DispatcherComponent } from './plugin.js';
export { UpstreamError, UpstreamsFailedError, ZoneFileError } from './errors.js';
export { ZoneRecordError } from './zone-data.js';
export { CHAIN_ORDER } from './chain.js';
