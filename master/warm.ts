/**
 * Compile the master's request schemas ahead of time (common/schema.ts caches them by their JSON
 * text). A follower does it before it contends, so becoming the leader only looks them up: under a
 * busy CPU, compiling them at takeover blocked the event loop for seconds, longer than the
 * ZooKeeper session timeout, and the new leader lost its session before it served.
 */
import { compileSchema } from '../common/schema.js';
import { heartbeatSchema, registerSchema, statusSchema } from './agent-schema.js';
import { limitsFromEnv, type Limits } from './limits.js';
import { appDefinitionSchema, appUpdateSchema, groupSchema, groupUpdateSchema } from './marathon/schema.js';

export function warmMasterSchemas(limits: Limits = limitsFromEnv()): void {
  for (const s of [appDefinitionSchema(limits), appUpdateSchema(limits), groupSchema(limits), groupUpdateSchema(limits), registerSchema(limits), heartbeatSchema, statusSchema]) compileSchema(s as Parameters<typeof compileSchema>[0]);
}
