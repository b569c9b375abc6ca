/**
 * The agent's heap setting (agent/heap.ts), in fresh Node processes: with it the young generation
 * does not grow under a burst of garbage that makes it grow without it, and the peak RSS of taking
 * 10,000 VIPs several times over is lower (`--optimize-for-size`: the old generation grows by
 * smaller steps).
 */
import t from 'tap';
import { fileURLToPath } from 'node:url';
import type { Test } from 'tap';
import { spawnTracked } from '../../test/lib/proc.js';
import { AGENT_V8_FLAGS } from '../heap.js';

const CHILD = fileURLToPath(new URL('./fixtures/heap-child.ts', import.meta.url));
const PEAK_CHILD = fileURLToPath(new URL('./fixtures/heap-peak-child.ts', import.meta.url));

async function young(t: Test, mode: 'limit' | 'none'): Promise<{ before: number; after: number }> {
  const p = spawnTracked(t, process.execPath, ['--import', 'tsx', CHILD, mode]);
  await p.waitFor(/"after"/, 60_000);
  return JSON.parse(/\{.*"after".*\}/.exec(p.output())![0]) as { before: number; after: number };
}

t.test('the young generation stays at its size with the agent setting, grows without it', async (t) => {
  t.same(AGENT_V8_FLAGS, ['--semi-space-growth-factor=1', '--optimize-for-size']);
  const none = await young(t, 'none');
  const limit = await young(t, 'limit');
  t.ok(none.after > none.before, `without: grows (${none.before} -> ${none.after} bytes)`);
  t.ok(limit.after <= limit.before, `with: does not grow (${limit.before} -> ${limit.after} bytes)`);
  t.ok(limit.after * 4 <= none.after, `with: at most a quarter of the grown size (${limit.after} vs ${none.after})`);
});

async function peak(t: Test, mode: 'limit' | 'none'): Promise<number> {
  const p = spawnTracked(t, process.execPath, ['--import', 'tsx', PEAK_CHILD, mode]);
  await p.waitFor(/"hwm"/, 120_000);
  return (JSON.parse(/\{.*"hwm".*\}/.exec(p.output())![0]) as { hwm: number }).hwm;
}

t.test('the peak RSS of taking 10,000 VIPs over and over is lower with the agent setting', async (t) => {
  const none = await peak(t, 'none');
  const limit = await peak(t, 'limit');
  t.ok(limit * 1.2 <= none, `with: peak ${(limit / 1024).toFixed(0)} MiB, without: ${(none / 1024).toFixed(0)} MiB (at least a sixth less)`);
});

t.test('a full collection runs when the heap and its buffers grew, and frees dropped buffers; not otherwise', async (t) => {
  const p = spawnTracked(t, process.execPath, ['--import', 'tsx', fileURLToPath(new URL('./fixtures/collect-child.ts', import.meta.url))]);
  t.equal(await p.exited, 0, 'the child exited 0');
  const r = JSON.parse(/\{.*\}/.exec(p.output())![0]) as Record<string, number | boolean>;
  t.equal(r.first, true, 'the first call collects (no mark yet)');
  t.equal(r.small, false, 'growth under the threshold: no collection');
  t.ok((r.afterSmall as number) >= (r.before as number) - (1 << 20), `dropped buffers still held without a collection (${r.before} -> ${r.afterSmall} bytes external)`);
  t.equal(r.collected, true, 'growth over the threshold: collected');
  t.ok((r.after as number) < (r.before as number) - (16 << 20), `the dropped 20 MB of buffers were freed (${r.before} -> ${r.after} bytes external)`);
  t.equal(r.again, false, 'no growth since: no second collection');
});
