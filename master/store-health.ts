/**
 * The `sextant-master-store` unit: the master's durable store takes a write and reads it back
 * (key `health/probe`, a fresh nonce each time). A store that refuses the write (disk full, no
 * ZooKeeper quorum) or returns something else is unhealthy, and the output says which.
 */
import { randomUUID } from 'node:crypto';
import { UNITS, type HealthCheck, type KvStore } from '../contracts/index.js';

export const STORE_HEALTH_KEY = 'health/probe';

export function storeHealthCheck(store: KvStore): HealthCheck {
  return {
    id: UNITS.masterStore,
    name: 'Master store',
    help: "The master's durable store (file store, or ZooKeeper with --zk): a write of health/probe read back. Unhealthy: see the master's log for the store error.",
    async check() {
      const nonce = randomUUID();
      const t0 = performance.now();
      try {
        await store.put(STORE_HEALTH_KEY, { nonce, at: Date.now() });
      } catch (e) {
        return { healthy: false, output: `write of ${STORE_HEALTH_KEY} failed: ${(e as Error).message}` };
      }
      const got = await store.get<{ nonce?: string }>(STORE_HEALTH_KEY);
      if (got?.nonce !== nonce) return { healthy: false, output: `read of ${STORE_HEALTH_KEY} returned ${JSON.stringify(got)}, not the value just written` };
      return { healthy: true, output: `write and read of ${STORE_HEALTH_KEY} took ${Math.round(performance.now() - t0)} ms` };
    },
  };
}
