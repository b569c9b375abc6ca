// Public interface of the control plane. Its part, snapshot and consumer types, and the
// registration objects, are in contracts/.
export { ControlServer, DEFAULT_CONTROL_PORT, type ControlServerOptions } from './server.js';
export { ControlClient, type ControlClientOptions, type ClientState } from './client.js';
export { SnapshotEngine, type EngineOptions, type SnapshotStore, type PersistedSnapshot } from './engine.js';
export type { AgentStatus, ControlStatus } from './agents.js';
export { MasterRing } from './ring.js';
export { zonesSource, zoneRecords, DCOS_ZONE } from './sources/zones.js';
export { mastersSource, masterEntries, type MastersSourceOptions } from './sources/masters.js';
export { sanitizeLabel, runningTasks } from './sources/state.js';
export type { TlsOptions } from './tls.js';
export { ApplyError } from './errors.js';
export { controlMasterPlugin, controlAgentPlugin, kvSnapshotStore, type ControlMasterPluginOptions, type ControlAgentPluginOptions } from './plugin.js';
