/**
 * agent/malloc.ts in fresh Node processes: malloc_trim(0) gives back the free pages malloc holds
 * after many small blocks are freed (the agent's RSS kept them before: issue #26), and without it
 * they stay.
 */
import t from 'tap';
import { fileURLToPath } from 'node:url';
import type { Test } from 'tap';
import { spawnTracked } from '../../test/lib/proc.js';
import { mallocTrim } from '../malloc.js';

const CHILD = fileURLToPath(new URL('./fixtures/malloc-child.ts', import.meta.url));

async function run(t: Test, mode: 'trim' | 'async' | 'none'): Promise<{ before: number; after: number; trimmed: boolean | null | undefined }> {
  const p = spawnTracked(t, process.execPath, ['--expose-gc', '--import', 'tsx', CHILD, mode]);
  await p.waitFor(/"after"/, 60_000);
  return JSON.parse(/\{.*"after".*\}/.exec(p.output())![0]) as { before: number; after: number; trimmed: boolean | null | undefined };
}

t.test('the native module is built (npm run build) and trims on glibc', async (t) => {
  t.type(mallocTrim(), 'boolean', 'mallocTrim() answers: the module is loaded');
});

t.test('trimming gives back the free memory malloc holds; without it, it stays', async (t) => {
  const trim = await run(t, 'trim');
  const none = await run(t, 'none');
  t.equal(trim.trimmed, true, 'malloc_trim returned memory');
  const freedMb = (trim.before - trim.after) / 1024;
  t.ok(freedMb >= 20, `RssAnon ${trim.before} -> ${trim.after} kB (${freedMb.toFixed(1)} MB back; 60 MB freed in 1 KB blocks)`);
  t.ok((none.before - none.after) / 1024 < 5, `without the trim: ${none.before} -> ${none.after} kB`);
});

t.test('the trim on a thread of the libuv pool (what the timer calls) gives the memory back as well', async (t) => {
  const r = await run(t, 'async');
  t.equal(r.trimmed, true, 'the promise says memory went back');
  const freedMb = (r.before - r.after) / 1024;
  t.ok(freedMb >= 20, `RssAnon ${r.before} -> ${r.after} kB (${freedMb.toFixed(1)} MB back)`);
});
