/**
 * agent/malloc.ts `capMallocArenas` and agent/v8flags.ts (issue #26): the settings are applied
 * (in fresh Node processes) and their inputs are checked. No memory threshold: only that a worker
 * thread gets no arena of its own under the cap and gets one without it, and that the re-executed
 * agent's node had the V8 flags on its command line and hands none of them on.
 */
import t from 'tap';
import { fileURLToPath } from 'node:url';
import type { Test } from 'tap';
import { spawnTracked } from '../../test/lib/proc.js';
import { capMallocArenas } from '../malloc.js';
import { AGENT_START_V8_FLAGS, agentV8Flags, dropAddedFlags, nodeOptions } from '../v8flags.js';

const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));

async function child<T>(t: Test, name: string, args: string[] = [], env: NodeJS.ProcessEnv = {}): Promise<T & { childPid: number }> {
  const clean = { ...process.env };
  for (const k of ['MALLOC_ARENA_MAX', 'NODE_OPTIONS', 'SEXTANT_AGENT_MALLOC_ARENAS', 'SEXTANT_AGENT_V8_FLAGS']) delete clean[k];
  const p = spawnTracked(t, process.execPath, ['--import', 'tsx', fixture(name), ...args], { env: { ...clean, ...env } });
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

interface ExecResult {
  pid: number;
  first?: string | null;
  second?: string | null;
  reexecuted: boolean;
  env: string | null;
  mark: string | null;
  v8mark: string | null;
  argv: string[];
  nodeFlags: string[];
  execArgv: string[];
}

t.test('the agent command re-executes itself once with MALLOC_ARENA_MAX: same PID, the cap from the start, a clean environment after', async (t) => {
  const r = await child<ExecResult>(t, 'arena-exec-child.ts', ['agent', '--flag', 'x y']);
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


t.test('SEXTANT_AGENT_V8_FLAGS: the default flags, 0/off none, a list instead, bad values refused; the operator\'s own flags hold', async (t) => {
  t.same(agentV8Flags({}, []), [...AGENT_START_V8_FLAGS], 'unset: the default flags');
  t.ok(AGENT_START_V8_FLAGS.includes('--max-semi-space-size=1'), 'which cap the semi-spaces at 1 MiB');
  for (const on of ['1', 'on']) t.same(agentV8Flags({ SEXTANT_AGENT_V8_FLAGS: on }, []), [...AGENT_START_V8_FLAGS], `'${on}': the default flags`);
  for (const off of ['0', 'off']) t.same(agentV8Flags({ SEXTANT_AGENT_V8_FLAGS: off }, []), [], `'${off}': none`);
  t.same(agentV8Flags({ SEXTANT_AGENT_V8_FLAGS: ' --max-semi-space-size=2  --single-threaded-gc ' }, []), ['--max-semi-space-size=2', '--single-threaded-gc'], 'a list: used instead');
  t.same(
    agentV8Flags({ NODE_OPTIONS: '--max_semi_space_size=8 --enable-source-maps' }, ['--no-optimize-for-size']),
    ['--semi-space-growth-factor=1'],
    "a flag in the operator's NODE_OPTIONS (either spelling) or on node's command line (--no- too) is not given again",
  );
  t.same(nodeOptions('"--max-semi-space-size=4" --x  "--import=a b\\"c"'), ['--max-semi-space-size=4', '--x', '--import=a b"c'], 'NODE_OPTIONS split as node does (quoted parts: tap quotes them)');
  t.same(agentV8Flags({ NODE_OPTIONS: '"--max-semi-space-size=4"' }, []), ['--semi-space-growth-factor=1', '--optimize-for-size'], 'a quoted flag in NODE_OPTIONS counts too');
  for (const bad of ['', 'yes', '--x;rm', 'max-semi-space-size=1', '--max-semi-space-size=1 -x']) t.throws(() => agentV8Flags({ SEXTANT_AGENT_V8_FLAGS: bad }, []), /SEXTANT_AGENT_V8_FLAGS='.*': 1\/on/, `'${bad}' refused`);
  t.throws(() => capMallocArenas({ SEXTANT_AGENT_V8_FLAGS: 'yes' }), /SEXTANT_AGENT_V8_FLAGS/, 'checked at the agent\'s start too');
  const argv = ['--import', 'tsx', '--max-semi-space-size=1', '--optimize-for-size'];
  dropAddedFlags(argv, ['--max-semi-space-size=1', '--optimize-for-size']);
  t.same(argv, ['--import', 'tsx'], 'the added flags come off the end of execArgv');
  const other = ['--optimize-for-size', '--import', 'tsx'];
  dropAddedFlags(other, ['--optimize-for-size']);
  t.same(other, ['--optimize-for-size', '--import', 'tsx'], "not the operator's own, elsewhere in execArgv");
});

t.test('the re-exec puts the V8 flags on node\'s command line and hands none on; the operator\'s NODE_OPTIONS holds', async (t) => {
  const r = await child<ExecResult>(t, 'arena-exec-child.ts', ['agent']);
  t.ok(r.reexecuted, 're-executed');
  t.same(r.nodeFlags, ['--import', 'tsx', ...AGENT_START_V8_FLAGS], "node's command line had the flags after the child's own");
  t.same(r.execArgv, ['--import', 'tsx'], 'process.execArgv (what fork() and workers inherit) no longer has them');
  t.equal(r.v8mark, null, 'nor the environment its mark');
  const only = await child<ExecResult>(t, 'arena-exec-child.ts', ['agent'], { SEXTANT_AGENT_MALLOC_ARENAS: '0' });
  t.ok(only.reexecuted, 'without the arena cap the re-exec happens for the V8 flags alone');
  t.equal(only.second, undefined, 'and says no cap');
  t.equal(only.env, null, 'no MALLOC_ARENA_MAX set');
  t.same(only.nodeFlags, ['--import', 'tsx', ...AGENT_START_V8_FLAGS], 'the flags');
  const mine = await child<ExecResult>(t, 'arena-exec-child.ts', ['agent'], { NODE_OPTIONS: '--max-semi-space-size=4' });
  t.same(mine.nodeFlags, ['--import', 'tsx', ...AGENT_START_V8_FLAGS.filter((f) => !f.startsWith('--max-semi-space-size'))], "the operator's --max-semi-space-size in NODE_OPTIONS is not overridden");
  const off = await child<ExecResult>(t, 'arena-exec-child.ts', ['agent'], { SEXTANT_AGENT_MALLOC_ARENAS: '0', SEXTANT_AGENT_V8_FLAGS: '0' });
  t.notOk(off.reexecuted, 'both off: no re-exec');
  t.same(off.nodeFlags, ['--import', 'tsx'], 'and no flags');
});
