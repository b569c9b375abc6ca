/** The admin surface: the HTTPS entry point (router/) and the identity service (acs/). */

// ---- entry point (admin/router) ----
export { EntryServer, type EntryOptions } from './router/server.js';
export { entryPlugin, entryTls, type EntryPluginConfig } from './router/plugin.js';
export { DEFAULT_ENTRY_LIMITS, ENTRY_ENV, entryLimitsFromEnv, type EntryLimits } from './router/config.js';
export { permissionFor, actionOf, groupOf, groupOfApp, R as RESOURCES, type Need, type Upstream } from './router/permissions.js';
export { mapPath, BadPath, type Mapped, type RouteName } from './router/routes.js';
export { MasterUpstreams, type Target, type Upstreams } from './router/upstreams.js';
export { AuthGate, credentialOf } from './router/auth-gate.js';
// ---- end entry point ----
