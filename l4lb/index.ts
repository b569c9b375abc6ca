/** Public interface of the l4lb component: VIP model, allocator, drivers, reconciler, plugins. */
export type { Backend, Service, ApplyResult, L4lbDriver, DriverName } from './driver.js';
export { VipLabelError, VipPoolExhaustedError, DriverError, NoDriverError } from './errors.js';
export { parseVipValue, parseVipPortLabel, vipLabelName, type VipTarget } from './labels.js';
export { vipsFromState, vipDnsName, backendWeight, L4LB_DOMAIN, type VipSpec, type LabelProblem } from './model.js';
export { VipAllocator, STORE_PREFIX, type AllocatorOptions } from './allocator.js';
export { vipSource, toVips, vipKey, type VipSource, type VipSourceOptions } from './source.js';
export { normalize, serviceKey, servicesFromVips, diffServices } from './services.js';
export { NftablesDriver, type NftablesDriverOptions } from './nft/driver.js';
export { tableName, DEFAULT_TABLE } from './nft/names.js';
export { UserspaceDriver, type UserspaceDriverOptions } from './userspace/driver.js';
export { probeDriver, loadIpvsDriver, parseDriverChoice, DRIVER_CHOICES, type DriverChoice, type ProbeOptions } from './probe.js';
export { L4lbReconciler, vipsApiView, type ReconcilerOptions } from './reconciler.js';
export { l4lbAgentPlugin, l4lbMasterPlugin, type L4lbAgentPluginOptions, type L4lbMasterPluginOptions } from './plugin.js';
export { l4lbMetrics, type L4lbMetrics } from './metrics.js';
export { main as agentVipsMain, formatVips } from './cli.js';
