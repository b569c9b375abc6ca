/** `sextant acl` (cli/sextant.ts's table needs one module with `main` per command). */
export { aclMain as main } from './cli.js';
