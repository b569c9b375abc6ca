// Public interface of diagnostics (DC/OS 3DT): the health registry, node and master routes, the CLI.
export { HealthRegistry, runOne, DEFAULT_CHECK_TIMEOUT_MS, type UnitHealth } from './registry.js';
export { nodeHealth, parseNodeHealth, type NodeHealthJson, type NodeInfo, type NodeRole } from './node.js';
export { HealthAggregator, targetsFromState, mapLimit, fetchJson, tlsJsonGetter, type NodeReport, type NodeTarget } from './aggregate.js';
export { diagAgentPlugin, diagMasterPlugin, type DiagPluginOptions } from './plugin.js';
export { DUMP_COMMANDS, takeDumps, type Dump } from './dumps.js';
export { listLogs, readLog } from './logs.js';
