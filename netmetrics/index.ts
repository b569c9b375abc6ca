// Public interface of the network metrics aggregator (issue #28): windows, judge, drain, API, plugin, CLI helpers.
export { Ring } from './ring.js';
export { quantile, latencyView, LATENCY_WIDTH } from './histogram.js';
export { parseNodeMetrics, MetricsParseError } from './parse.js';
export { MetricsStore, figures, C, COUNTER_WIDTH, type StoreOptions, type Figures, type NodeStatus } from './store.js';
export { BackendJudge, checkThreshold, DEFAULT_THRESHOLD, DEFAULT_MIN_CONNECTIONS, type JudgeOptions, type Evidence, type Verdict } from './judge.js';
export { DrainPolicy, type DrainOptions, type ServedBackend } from './drain.js';
export { NetMetricsAggregator, METRICS_PATH, type AggregatorOptions, type PollTarget } from './aggregator.js';
export { vipsView, vipView, backendUsesView, findVip, AmbiguousVipError } from './views.js';
export { mountRoutes } from './routes.js';
export { netmetricsMasterPlugin, activeAgents, type NetmetricsPluginOptions } from './plugin.js';
