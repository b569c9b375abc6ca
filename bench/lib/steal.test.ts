import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cpuTimes, stealNote, stealShare } from './steal.js';

t.test('cpuTimes reads the all-CPU line of /proc/stat, steal is its eighth field', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sx-steal-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const f = join(dir, 'stat');
  writeFileSync(f, 'cpu  100 0 50 800 10 0 5 35 7 0\ncpu0 50 0 25 400 5 0 2 18 0 0\nintr 1\n');
  t.same(cpuTimes(f), { total: 1000, steal: 35 }, 'guest time (ninth field) is not added again');
  t.same(cpuTimes(join(dir, 'missing')), { total: 0, steal: 0 }, 'no /proc/stat: zeros, no throw');
  t.end();
});

t.test('stealShare is stolen over elapsed time; no time passed is 0', (t) => {
  t.equal(stealShare({ total: 1000, steal: 35 }, { total: 1200, steal: 85 }), 0.25);
  t.equal(stealShare({ total: 1000, steal: 35 }, { total: 1000, steal: 35 }), 0);
  t.end();
});

t.test('stealNote gives median and max in percent', (t) => {
  t.equal(stealNote([0.01, 0.3, 0.02]), 'CPU steal 2% median, 30% max over the runs');
  t.equal(stealNote([]), 'steal not measured');
  t.end();
});

t.test("this machine's /proc/stat parses: time has passed, steal is part of it", (t) => {
  const a = cpuTimes();
  t.ok(a.total > 0 && a.steal >= 0 && a.steal <= a.total, JSON.stringify(a));
  t.end();
});
