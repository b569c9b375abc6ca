import { randomBytes } from 'node:crypto';

/**
 * A short per-run prefix (e.g. `sx3f9a`) for namespaces, links, nft tables and sandboxes, so
 * parallel runs never collide. Interface names must stay within 15 characters: keep suffixes short.
 */
export const runId = process.env.SEXTANT_RUN_ID ?? randomBytes(2).toString('hex');
let counter = 0;

export function uniqueName(kind: string): string {
  counter++;
  return `sx${runId}${kind}${counter.toString(36)}`;
}
