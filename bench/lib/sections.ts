/**
 * A benchmark run of some parts only (e.g. `L4LB_BENCH=program`) keeps the other parts' sections
 * of the old page, so a partial run never wipes figures it did not measure.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NOTES } from './notes.js';

/**
 * The sections of `page` whose `## ` heading starts with one of `headings`, each up to the next
 * `## ` heading, the runner's closing `Load when finished` line or the notes marker.
 */
export function keptSections(page: string, headings: string[]): string[] {
  const lines = page.split('\n');
  const out: string[] = [];
  let keep = false;
  for (const line of lines) {
    if (line.startsWith(NOTES)) break;
    if (line.startsWith('## ') || line.startsWith('Load when finished')) keep = line.startsWith('## ') && headings.some((h) => line.startsWith(`## ${h}`));
    if (keep) out.push(line);
  }
  while (out.length && out.at(-1) === '') out.pop();
  return out.length ? [...out, ''] : [];
}

/** The current page of `component` under docs/benchmarks ('' when there is none). */
export function currentPage(component: string): string {
  const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
  const page = join(root.endsWith('dist') ? join(root, '..') : root, 'docs', 'benchmarks', `${component}.md`);
  return existsSync(page) ? readFileSync(page, 'utf8') : '';
}
