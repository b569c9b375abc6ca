/** `sextant master`: the master with the services chosen in cli/plugins.ts. */
import { masterMain } from '../master/index.js';
import { masterServices } from './plugins.js';

export function main(argv: string[]): Promise<number> {
  return masterMain(argv, masterServices);
}
