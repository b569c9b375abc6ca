/**
 * agent/release.ts's native call for real, in fresh Node processes: after a burst of garbage and
 * plain full collections, V8's LowMemoryNotification (and MemoryPressureNotification(kCritical))
 * gives back committed heap and resident memory that more plain collections keep.
 */
import t from 'tap';
import { fileURLToPath } from 'node:url';
import type { Test } from 'tap';
import { spawnTracked } from '../../test/lib/proc.js';
import { memReleaseNative } from '../release.js';

const CHILD = fileURLToPath(new URL('./fixtures/release-child.ts', import.meta.url));
const MiB = 1 << 20;

interface Run {
  before: { heapTotal: number; anon: number };
  after: { heapTotal: number; anon: number };
}

async function run(t: Test, mode: 'low' | 'critical' | 'gc'): Promise<Run> {
  const p = spawnTracked(t, process.execPath, ['--expose-gc', '--import', 'tsx', CHILD, mode]);
  await p.waitFor(/"after"/, 120_000);
  return JSON.parse(/\{.*"after".*\}/.exec(p.output())![0]) as Run;
}

const fmt = (r: Run) => `heapTotal ${(r.before.heapTotal / MiB).toFixed(1)} -> ${(r.after.heapTotal / MiB).toFixed(1)} MiB, RssAnon ${(r.before.anon / 1024).toFixed(1)} -> ${(r.after.anon / 1024).toFixed(1)} MiB`;

t.test('the native module is built (npm run build)', async (t) => {
  t.type(memReleaseNative()?.release, 'function');
  t.throws(() => memReleaseNative()!.release('some' as 'low'), /wants 'low' or 'critical'/, 'a bad mode is refused, naming what is wanted');
});

t.test('a release gives back what plain full collections keep', async (t) => {
  const gc = await run(t, 'gc');
  const low = await run(t, 'low');
  const critical = await run(t, 'critical');
  const back = (r: Run) => ({ heap: (r.before.heapTotal - r.after.heapTotal) / MiB, anon: (r.before.anon - r.after.anon) / 1024 });
  t.ok(back(gc).heap < 2 && back(gc).anon < 4, `plain collections: ${fmt(gc)}`);
  // Measured: about 32 MiB of each back with either call, nothing with plain collections.
  t.ok(back(low).heap >= 10 && back(low).anon >= 10, `LowMemoryNotification: ${fmt(low)}`);
  t.ok(back(critical).heap >= 10 && back(critical).anon >= 10, `MemoryPressureNotification(kCritical): ${fmt(critical)}`);
});
