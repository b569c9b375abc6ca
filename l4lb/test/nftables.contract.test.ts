/** The driver contract against the nftables driver, in a throwaway network namespace. */
import t from 'tap';
import { createNetns, requireRoot, requireTools } from '../../test/lib/index.js';
import { NftablesDriver } from '../nft/driver.js';
import { runDriverContract } from './contract.js';

t.test('nftables driver satisfies the l4lb driver contract', async (t) => {
  requireRoot();
  requireTools('nft', 'ip');
  await runDriverContract(t, async (t) => {
    const ns = await createNetns(t, 'nft');
    const driver = new NftablesDriver({ netns: ns.name });
    return {
      driver,
      vip: (i) => ({ ip: `11.0.0.${i + 1}`, port: 80 + i }),
      backend: (i) => ({ ip: `10.1.0.${i + 1}`, port: 8080 + i }),
      tamper: async () => void (await ns.exec('nft', ['flush', 'ruleset'])),
    };
  });
});
