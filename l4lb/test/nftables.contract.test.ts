/** The driver contract (programming and traffic, IPv4 and IPv6) against the nftables driver, in throwaway network namespaces. */
import t from 'tap';
import { createNetns, requireRoot, requireTools } from '../../test/lib/index.js';
import { NftablesDriver } from '../nft/driver.js';
import { runDriverContract } from './contract.js';
import { runTrafficContract } from './traffic-contract.js';

t.test('nftables driver satisfies the l4lb driver contract', async (t) => {
  requireRoot();
  requireTools('nft', 'ip');
  await runDriverContract(t, async (t, family) => {
    const ns = await createNetns(t, 'nft');
    const driver = new NftablesDriver({ netns: ns.name });
    return {
      driver,
      vip: (i) => ({ ip: family === 4 ? `11.0.0.${i + 1}` : `fd01:c::${i + 1}`, port: 80 + i }),
      backend: (i) => ({ ip: family === 4 ? `10.1.0.${i + 1}` : `fd77:1::${i + 1}`, port: 8080 + i }),
      tamper: async () => void (await ns.exec('nft', ['flush', 'ruleset'])),
    };
  });
});

t.test('nftables driver carries the contract traffic', async (t) => {
  requireRoot();
  requireTools('nft', 'ip', 'node');
  await runTrafficContract(t, async (_t, n3) => new NftablesDriver({ netns: n3.name }));
});
