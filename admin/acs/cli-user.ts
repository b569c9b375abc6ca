/** `sextant user` (cli/sextant.ts's table needs one module with `main` per command). */
export { userMain as main } from './cli.js';
