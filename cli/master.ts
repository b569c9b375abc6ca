/** `sextant master`: the master with the services chosen in cli/plugins.ts, and the entry point when `--admin-port` is given. */
import { masterMain } from '../master/index.js';
import { makeMasterFront, masterServices, preloadMasterServices } from './plugins.js';

export function main(argv: string[]): Promise<number> {
  // One of several masters (--zk): a follower's entry point asks the leader's identity service.
  const ha = argv.some((a) => a === '--zk' || a.startsWith('--zk='));
  return masterMain(argv, masterServices, makeMasterFront({ askLeader: ha }), preloadMasterServices);
}
