/** The admin surface: the HTTPS entry point (router/) and the identity service (acs/). */

// ---- entry point (admin/router) ----
export { EntryServer, type EntryOptions } from './router/server.js';
export { EntryWorkers, type EntryWorkersOptions } from './router/workers.js';
export { NginxFront, NGINX, certName, checkModulePath as frontCheckModulePath, defaultCheck as defaultFrontCheck, type NginxFrontOptions } from './router/front.js';
export { FRONT_USER, frontRunDir, frontRunRoot, frontWorkerUser, type FrontWorkerUser } from './router/front-account.js';
export { sweepFrontRunDirs } from './router/front-sweep.js';
export { nginxConf, type FrontCheck, type FrontConf } from './router/front-conf.js';
export { frontLua, WORKER_ENTRIES as FRONT_WORKER_ENTRIES } from './router/front-lua.js';
export { entryPlugin, entryTls, type EntryPluginConfig } from './router/plugin.js';
export { DEFAULT_ENTRY_LIMITS, ENTRY_ENV, entryLimitsFromEnv, type EntryLimits } from './router/config.js';
export { permissionFor, actionOf, groupOf, groupOfApp, R as RESOURCES, type Need, type Upstream } from './router/permissions.js';
export { mapPath, BadPath, type Mapped, type RouteName } from './router/routes.js';
export { MasterUpstreams, type Target, type Upstreams } from './router/upstreams.js';
export { AuthGate, credentialOf } from './router/auth-gate.js';
// ---- end entry point ----

// ---- identity service (admin/acs): identities, tokens, permissions (`/acs/api/v1`) ----
export { Acs, type AcsOptions, type LoginResult } from './acs/service.js';
export { acsMasterPlugin, createAcs, type AcsPluginOptions } from './acs/plugin.js';
export { AcsAuthority, tokenOf } from './acs/authority.js';
export { LeaderAuthority, type LeaderAuthorityOptions } from './acs/leader-authority.js';
export { IdentityStore, type UserRecord, type AclRecord } from './acs/store.js';
export { TokenSigner, verifyJwt, DEFAULT_TOKEN_LIFETIME_MS } from './acs/tokens.js';
export { LoginThrottle, type ThrottleOptions } from './acs/throttle.js';
export { hashPassword, verifyPassword, DEFAULT_SCRYPT, type PasswordHash, type ScryptParams } from './acs/password.js';
export { coveringResources, actionAllows, ACS_RESOURCE, SUPERUSER_RESOURCE, ACTIONS } from './acs/ids.js';
export { AcsError } from './acs/errors.js';
export { PREFIX as ACS_PREFIX, mountAcsApi } from './acs/api.js';
// ---- end identity service ----
