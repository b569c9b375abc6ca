/**
 * Issue 24: `sextant up` never touches what it did not start. A cluster runs with its example app;
 * a second `up` on the same ports exits non-zero fast, naming the port and the process holding
 * it, having started nothing; a third on the same work dir (other ports) is refused naming the
 * running `up`. Afterwards the first cluster still has its app, at the same version, with its tasks.
 */
import t from 'tap';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { requestJson } from '../../common/http.js';
import { spawnTracked } from '../lib/index.js';
import { spawnUp, upArgs, upPlan, upWorkDir } from './up-lib.js';

t.setTimeout(240_000);

interface App {
  id: string;
  version: string;
  tasksRunning: number;
}

async function apps(marathon: string): Promise<App[]> {
  const r = await requestJson(`${marathon}/v2/apps`);
  if (r.status !== 200) throw new Error(`GET /v2/apps: ${r.status}`);
  return (r.body as { apps: App[] }).apps;
}

/** Run `sextant up` that should be refused; its exit code, output and how long it took. */
async function refusedUp(t: { teardown(fn: () => unknown): void }, args: string[]) {
  const t0 = Date.now();
  const p = spawnTracked(t, process.execPath, args, { graceMs: 20_000 });
  const code = await Promise.race([p.exited, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 30_000))]);
  return { code, out: p.output(), ms: Date.now() - t0 };
}

t.test('a second sextant up on busy ports fails fast and the first keeps its app', async (t) => {
  const plan = await upPlan();
  const dir1 = upWorkDir(t, 'own1');
  const first = spawnUp(t, upArgs(plan, dir1, 1), dir1);
  await first.waitFor(/sextant up: ready/, 120_000);
  const masterPid = Number(first.output().match(/^master: pid (\d+)/m)![1]);
  const marathon = `http://${plan.ipBase}.1:${plan.marathonPort}`;
  const before = (await apps(marathon)).find((a) => a.id === '/hello');
  t.ok(before, 'the first cluster runs the example app /hello');

  // Same ports, another work dir: refused on the ports.
  const dir2 = join(upWorkDir(t, 'own2'), 'w');
  const second = await refusedUp(t, upArgs(plan, dir2, 1));
  t.not(second.code, 0, 'the second sextant up exits non-zero');
  t.not(second.code, 'timeout', 'the second sextant up exits on its own');
  t.ok(second.ms < 15_000, `it fails fast (${second.ms} ms)`);
  t.match(second.out, `${plan.ipBase}.1:${plan.masterPort}/tcp (master Mesos API) is in use by pid ${masterPid} (`, 'names the master port and the first master as its holder');
  t.match(second.out, `${plan.ipBase}.1:${plan.marathonPort}/tcp (Marathon) is in use by pid ${masterPid} (`, 'names the Marathon port and its holder');
  t.match(second.out, `${plan.ipBase}.2:${plan.agentPort}/tcp (agent 1 API) is in use by pid `, 'names the agent port');
  t.match(second.out, /sextant agent|sextant\.js agent/, 'and the command of its holder');
  t.notMatch(second.out, /starting master/, 'nothing was started');
  t.notOk(existsSync(dir2), 'not even its work dir was created');

  // Same work dir, free ports elsewhere: refused on the work dir.
  const other = await upPlan();
  const third = await refusedUp(t, upArgs(other, dir1, 1));
  t.not(third.code, 0, 'a sextant up on the same work dir exits non-zero');
  t.match(third.out, `--work-dir ${dir1} is in use by a running sextant up, pid ${first.pid} (`, 'names the work dir and the running sextant up');
  t.notMatch(third.out, /starting master/, 'nothing was started');

  const after = (await apps(marathon)).find((a) => a.id === '/hello');
  t.ok(after, 'the first cluster still has /hello');
  t.equal(after?.version, before?.version, 'at the same version (nobody deleted or changed it)');
  t.equal(after?.tasksRunning, 2, 'with its 2 tasks running');
  t.equal(first.child.exitCode, null, 'the first sextant up still runs');

  // And the first one cleans up its own app when stopped.
  first.kill('SIGINT');
  t.equal(await first.exited, 0, 'the first sextant up stops cleanly');
  t.match(first.output(), /^stopped$/m);
});
