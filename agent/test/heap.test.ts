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
