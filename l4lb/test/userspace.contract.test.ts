/**
 * The driver contract against the userspace proxy: programming on loopback addresses (IPv6: ::1,
 * one port per VIP); traffic with the proxy in its own process inside the client's namespace
 * (remote-driver.ts), its VIPs made local on that namespace's `lo`.
 */
import t from 'tap';
import { freePort, loopbackBlock } from '../../test/lib/index.js';
import { UserspaceDriver } from '../userspace/driver.js';
import { runDriverContract } from './contract.js';
import { runTrafficContract } from './traffic-contract.js';
import { RemoteDriver } from './remote-driver.js';
import { requireRoot, requireTools } from '../../test/lib/index.js';
import { serviceKey } from '../services.js';

t.test('userspace driver satisfies the l4lb driver contract', async (t) => {
  const lb = loopbackBlock();
  const ports = await Promise.all([0, 1, 2, 3].map(() => freePort()));
  const ports6 = await Promise.all([0, 1, 2, 3].map(() => freePort('::1')));
  await runDriverContract(t, async (_t, family) => {
    const driver = new UserspaceDriver();
    const vip = (i: number) => (family === 4 ? { ip: lb(10 + i), port: ports[i]! } : { ip: '::1', port: ports6[i]! });
    return {
      driver,
      vip,
      backend: (i) => ({ ip: family === 4 ? lb(20 + i) : `fd77:1::${i + 1}`, port: 8080 + i }),
      tamper: async () => driver.breakListener(serviceKey('tcp', vip(0).ip, vip(0).port)),
    };
  });
});

t.test('userspace driver carries the contract traffic', async (t) => {
  requireRoot();
  requireTools('ip', 'node');
  await runTrafficContract(t, async (t, n3) => new RemoteDriver('userspace', t, n3));
});
