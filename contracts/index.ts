// Public interface of the contracts layer: what components meet through. Depends on common/ only.
export * from './protocol.js';
export * from './master.js';
export * from './agent.js';
export * from './network.js';
export * from './control.js';
export * from './plugin.js';
export * from './health.js';
export * from './limits.js';
export * from './vip-label.js';
export { createMasterControl, createAgentControl } from './registry.js';
export * from './auth.js';
export * from './netmetrics.js';
export * from './tls.js';
