// Public interface of the control plane.
export * from './types.js';
export { ControlServer, DEFAULT_CONTROL_PORT, type ControlServerOptions } from './server.js';
export { ControlClient, CONSUMER_ORDER, type ControlClientOptions, type ClientState } from './client.js';
export { SnapshotEngine, DEFAULT_OVERLAY, type EngineOptions, type SnapshotStore, type PersistedSnapshot } from './engine.js';
export type { AgentStatus, ControlStatus } from './agents.js';
export { MasterRing } from './ring.js';
export { zonesSource, zoneRecords, DCOS_ZONE } from './sources/zones.js';
export { mastersSource, masterEntries, type MastersSourceOptions } from './sources/masters.js';
export { sanitizeLabel, runningTasks } from './sources/state.js';
export type { TlsOptions } from './tls.js';
export { ApplyError } from './errors.js';
export {
  controlMasterPlugin,
  controlAgentPlugin,
  registerPartSource,
  registerConsumer,
  registerSnapshotConsumer,
  kvSnapshotStore,
  type ControlMasterPluginOptions,
  type ControlAgentPluginOptions,
} from './plugin.js';
