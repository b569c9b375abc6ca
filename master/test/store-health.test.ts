/** The sextant-master-store unit: a write read back is healthy; a refused write or a wrong read is not. */
import t from 'tap';
import { MemoryKvStore } from '../store/index.js';
import { storeHealthCheck, STORE_HEALTH_KEY } from '../store-health.js';
import type { KvStore } from '../../contracts/index.js';

const signal = new AbortController().signal;

t.test('the store check', async (t) => {
  const store = new MemoryKvStore();
  const ok = await storeHealthCheck(store).check(signal);
  t.match(ok, { healthy: true, output: /write and read of health\/probe took \d+ ms/ });
  t.match(await store.get(STORE_HEALTH_KEY), { nonce: String }, 'the probe is in the store');

  const full: KvStore = Object.assign(Object.create(store) as KvStore, { put: async () => Promise.reject(new Error('ENOSPC: no space left on device')) });
  t.match(await storeHealthCheck(full).check(signal), { healthy: false, output: 'write of health/probe failed: ENOSPC: no space left on device' });

  const stale: KvStore = Object.assign(Object.create(store) as KvStore, { put: async () => {}, get: async () => ({ nonce: 'old' }) });
  t.match(await storeHealthCheck(stale).check(signal), { healthy: false, output: /read of health\/probe returned \{"nonce":"old"\}, not the value just written/ });
});
