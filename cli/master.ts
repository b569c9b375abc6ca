/** `sextant master`: the master with the services chosen in cli/plugins.ts, and the entry point when `--admin-port` is given. */
import { masterMain } from '../master/index.js';
import { masterFront, masterServices, preloadMasterServices } from './plugins.js';

export function main(argv: string[]): Promise<number> {
  return masterMain(argv, masterServices, masterFront, preloadMasterServices);
}
