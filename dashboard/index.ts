// Public interface of dashboard/: the operator's web dashboard served by the master (front end in web/).
export { dashboardMasterPlugin, type DashboardPluginOptions } from './plugin.js';
export { Assets, defaultAssetsDir, ASSET_FILES } from './assets.js';
export { ConvergenceTracker, type Convergence, type ControlSample } from './convergence.js';
export { SeriesStore, type SeriesJson, type Reading } from './series.js';
export { parsePromText, sumOf, type Sample } from './prom-text.js';
export { mountShim, PREFIXES } from './shim.js';
export { agentAddress, mountDnsRoute } from './dns-route.js';
export { mountFilesRoute } from './files-route.js';
export { Sampler, localJson, type SamplerOptions } from './sampler.js';
