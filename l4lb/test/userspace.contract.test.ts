/** The driver contract against the userspace proxy, on loopback addresses. */
import t from 'tap';
import { freePort, loopbackBlock } from '../../test/lib/index.js';
import { UserspaceDriver } from '../userspace/driver.js';
import { runDriverContract } from './contract.js';
import { serviceKey } from '../services.js';

t.test('userspace driver satisfies the l4lb driver contract', async (t) => {
  const lb = loopbackBlock();
  const ports = await Promise.all([0, 1, 2, 3].map(() => freePort()));
  await runDriverContract(t, async () => {
    const driver = new UserspaceDriver();
    return {
      driver,
      vip: (i) => ({ ip: lb(10 + i), port: ports[i]! }),
      backend: (i) => ({ ip: lb(20 + i), port: 8080 + i }),
      tamper: async () => driver.breakListener(serviceKey('tcp', lb(10), ports[0]!)),
    };
  });
});
