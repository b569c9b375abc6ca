/**
 * `npm run bench admin-paired`: only the front / nginx paired rounds of bench/admin (a few minutes
 * instead of fifteen), into docs/benchmarks/admin-paired.md.
 */
import { bench as admin } from '../admin/index.js';

export const bench = (): Promise<string> => admin({ pairedOnly: true });
