/** `sextant auth` (cli/sextant.ts's table needs one module with `main` per command). */
export { authMain as main } from './cli.js';
