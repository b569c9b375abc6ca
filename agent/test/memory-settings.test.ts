/**
 * agent/malloc.ts `limitMallocArenas` (issue #26): the settings are applied
 * (in fresh Node processes) and their inputs are checked. No memory threshold: only that a worker
 * thread gets no arena of its own under the cap and gets one without it.
 */
import t from 'tap';
import { fileURLToPath } from 'node:url';
import type { Test } from 'tap';
import { spawnTracked } from '../../test/lib/proc.js';
import { capMallocArenas } from '../malloc.js';

const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));

async function child<T>(t: Test, name: string, args: string[] = []): Promise<T & { childPid: number }> {
  const p = spawnTracked(t, process.execPath, ['--import', 'tsx', fixture(name), ...args]);
  const code = await p.exited;
  t.equal(code, 0, `${name} exited 0`);
  const line = p.output().split('\n').find((l) => l.startsWith('{'));
  if (!line) throw new Error(`${name} printed no result: ${p.output().slice(-500)}`);
  return { ...(JSON.parse(line) as T), childPid: p.pid };
}

t.test('SEXTANT_AGENT_MALLOC_ARENAS: default 1, 0 leaves glibc alone, MALLOC_ARENA_MAX wins, bad values are refused', async (t) => {
  t.equal(capMallocArenas({}), 'mallopt', 'without exec, the default cap is set for arenas from now on (native module built, glibc)');
  t.equal(capMallocArenas({ SEXTANT_AGENT_MALLOC_ARENAS: '0' }), undefined, '0: nothing set');
  t.equal(capMallocArenas({ MALLOC_ARENA_MAX: '4' }), 'env', "glibc already read the operator's MALLOC_ARENA_MAX: nothing set");
  const reexecuted: NodeJS.ProcessEnv = { MALLOC_ARENA_MAX: '1', SEXTANT_AGENT_ARENAS_EXEC: '1', PATH: '/bin' };
  t.equal(capMallocArenas(reexecuted), 'exec', 'the re-executed image knows it has the cap');
  t.same(reexecuted, { PATH: '/bin' }, 'and removes the variable and its mark: what it starts does not inherit them');
  for (const bad of ['x', '-1', '1.5', '65', '']) t.throws(() => capMallocArenas({ SEXTANT_AGENT_MALLOC_ARENAS: bad }), /SEXTANT_AGENT_MALLOC_ARENAS='.*': an integer/, `'${bad}' refused`);
});

t.test('the agent command re-executes itself once with MALLOC_ARENA_MAX: same PID, the cap from the start, a clean environment after', async (t) => {
  const r = await child<{ pid: number; first: string | null; second: string | null; env: string | null; mark: string | null; argv: string[] }>(t, 'arena-exec-child.ts', ['agent', '--flag', 'x y']);
  t.equal(r.first, null, 'the first image got no result: it was replaced');
  t.equal(r.second, 'exec', 'the second image has the cap from its start');
  t.equal(r.env, null, 'MALLOC_ARENA_MAX is gone from its environment');
  t.equal(r.mark, null, 'so is the mark');
  t.same(r.argv, ['agent', '--flag', 'x y'], 'the same arguments');
  t.equal(r.pid, r.childPid, 'the process started is the one that carried on (same PID: no second process)');
});

t.test('with the cap, threads started afterwards get no malloc arena of their own; without it, they do', async (t) => {
  const none = await child<{ before: number; after: number }>(t, 'arena-child.ts', ['none']);
  const limit = await child<{ limit: string | null; before: number; after: number }>(t, 'arena-child.ts', ['limit']);
  t.ok(none.after > none.before, `without the cap 4 worker threads made arenas: ${none.before} -> ${none.after}`);
  t.equal(limit.limit, 'mallopt', 'the cap was set');
  t.equal(limit.after, limit.before, `with the cap, none: ${limit.before} -> ${limit.after}`);
});

