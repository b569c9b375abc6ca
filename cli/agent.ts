/** `sextant agent`: the agent with the services chosen in cli/plugins.ts. */
import { agentMain } from '../agent/index.js';
import { agentServices } from './plugins.js';

export function main(argv: string[]): Promise<number> {
  return agentMain(argv, agentServices);
}
