/**
 * agent/release-policy.ts with an injected clock: the agent gives V8's memory back only when quiet
 * (no update being applied, none for quietMs), when heapTotal or RSS grew by growthBytes over their
 * low-water mark since the last release, and at most once per minIntervalMs. Also the env settings
 * (agent/release.ts `releaseConfig`).
 */
import t from 'tap';
import { ReleasePolicy, type MemorySample, type ReleaseSettings } from '../release-policy.js';
import { releaseConfig } from '../release.js';

const MiB = 1 << 20;
const S: ReleaseSettings = { quietMs: 1500, growthBytes: 8 * MiB, minIntervalMs: 30_000 };
const BASE: MemorySample = { heapTotal: 40 * MiB, rss: 100 * MiB };
const grown = (heap: number, rss = 0): MemorySample => ({ heapTotal: BASE.heapTotal + heap * MiB, rss: BASE.rss + rss * MiB });

function policy(): { p: ReleasePolicy; clock: { now: number } } {
  const clock = { now: 0 };
  return { p: new ReleasePolicy(S, () => clock.now, BASE), clock };
}

t.test('one row per rule: the verdict at a given time and memory', async (t) => {
  const rows: { name: string; at: number; m: MemorySample; want: string }[] = [
    { name: 'quiet, heapTotal grew by 8 MiB', at: 2000, m: grown(8), want: 'release' },
    { name: 'quiet, RSS grew by 8 MiB', at: 2000, m: grown(0, 8), want: 'release' },
    { name: 'quiet, grew by less', at: 2000, m: grown(7.9, 7.9), want: 'nothing-to-give' },
    { name: 'not quiet yet since the start', at: 1000, m: grown(20), want: 'not-quiet' },
  ];
  for (const r of rows) {
    const { p, clock } = policy();
    clock.now = r.at;
    t.equal(p.check(r.m), r.want, r.name);
  }
});

t.test('no release while an update is applied, nor within quietMs after it ended', async (t) => {
  const { p, clock } = policy();
  clock.now = 10_000;
  const done = p.begin();
  clock.now = 60_000;
  t.equal(p.check(grown(20)), 'applying', 'an update being applied (for 50 s)');
  done();
  done(); // twice counts once
  clock.now = 61_000;
  t.equal(p.check(grown(20)), 'not-quiet', '1 s after it ended');
  clock.now = 61_500;
  t.equal(p.check(grown(20)), 'release', 'quietMs after it ended');
  const a = p.begin();
  const b = p.begin();
  a();
  clock.now = 70_000;
  t.equal(p.check(grown(20)), 'applying', 'one of two overlapping applies still going');
  b();
  clock.now = 71_500;
  t.equal(p.check(grown(20)), 'release', 'both done, quiet again');
});

t.test('at most once per minIntervalMs; growth counts from after the last release', async (t) => {
  const { p, clock } = policy();
  clock.now = 5000;
  t.equal(p.check(grown(20)), 'release');
  p.released(grown(12)); // what the release left
  clock.now = 20_000;
  t.equal(p.check(grown(30)), 'too-soon', '15 s later');
  clock.now = 35_000;
  t.equal(p.check(grown(19)), 'nothing-to-give', '30 s later, 7 MiB over what the release left');
  t.equal(p.check(grown(20)), 'release', '8 MiB over it');
});

t.test('the low-water mark follows memory down: growth from the lowest seen since the last release', async (t) => {
  const { p, clock } = policy();
  clock.now = 5000;
  t.equal(p.check(grown(-10)), 'nothing-to-give', 'memory went down by itself');
  t.equal(p.check(grown(-2)), 'release', '8 MiB above the lowest (-10), though only 2 MiB below the start');
});

t.test('releaseConfig: defaults, off, critical, bad values named', async (t) => {
  t.same(releaseConfig({}), { mode: 'low', quietMs: 1500, growthBytes: 8 * MiB, minIntervalMs: 30_000 });
  for (const v of ['0', 'off']) t.equal(releaseConfig({ SEXTANT_AGENT_MEMORY_RELEASE: v }).mode, 'off', v);
  for (const v of ['1', 'on', 'low']) t.equal(releaseConfig({ SEXTANT_AGENT_MEMORY_RELEASE: v }).mode, 'low', v);
  t.equal(releaseConfig({ SEXTANT_AGENT_MEMORY_RELEASE: 'critical' }).mode, 'critical');
  const c = releaseConfig({ SEXTANT_AGENT_MEMORY_RELEASE_MIB: '16', SEXTANT_AGENT_MEMORY_RELEASE_INTERVAL_S: '60' });
  t.equal(c.growthBytes, 16 * MiB);
  t.equal(c.minIntervalMs, 60_000);
  t.throws(() => releaseConfig({ SEXTANT_AGENT_MEMORY_RELEASE: 'yes' }), /SEXTANT_AGENT_MEMORY_RELEASE: 'yes'/);
  t.throws(() => releaseConfig({ SEXTANT_AGENT_MEMORY_RELEASE_MIB: '0' }), /SEXTANT_AGENT_MEMORY_RELEASE_MIB: '0'/);
  t.throws(() => releaseConfig({ SEXTANT_AGENT_MEMORY_RELEASE_INTERVAL_S: '1.5' }), /SEXTANT_AGENT_MEMORY_RELEASE_INTERVAL_S: '1.5'/);
});
