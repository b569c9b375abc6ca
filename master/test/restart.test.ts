/**
 * The real executable: `sextant master` killed with SIGKILL and started again on the same work
 * dir keeps its apps, tasks and agents, and reconciles with the agent without duplicates.
 * Needs a build (`npx tsc -p .`; `npm test` runs it first as pretest).
 */
import t from 'tap';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { requestJson } from '../../common/index.js';
import { INSECURE_DEV, eventually, freePort, loopbackBlock, spawnTracked } from '../../test/lib/index.js';
import { FakeAgent } from '../../test/lib/fake-agent.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const bin = join(root, 'dist', 'cli', 'sextant.js');

t.test('kill -9 and restart: apps, tasks and agents are still there', async (t) => {
  if (!existsSync(bin)) throw new Error(`${bin} is missing: build first with \`npx tsc -p .\` (npm test does it as pretest)`);
  const ip = loopbackBlock();
  const workDir = mkdtempSync(join(tmpdir(), 'sx-restart-'));
  t.teardown(() => rmSync(workDir, { recursive: true, force: true }));
  const port = await freePort(ip(1));
  const mport = await freePort(ip(1));
  const args = [bin, 'master', '--ip', ip(1), '--port', String(port), '--marathon-port', String(mport), '--work-dir', workDir, '--agent-timeout-ms', '60000', ...INSECURE_DEV];
  const env = { ...process.env, SEXTANT_LOG_LEVEL: 'warn' };
  const marathon = `http://${ip(1)}:${mport}`;
  const mesos = `http://${ip(1)}:${port}`;

  let m = spawnTracked(t, process.execPath, args, { env });
  await m.waitFor(new RegExp(`sextant master listening on http://${ip(1).replace(/\./g, '\\.')}:${port} \\(marathon http://.*:${mport}\\)`), 20000);

  const agent = new FakeAgent({ ip: ip(2), master: `${ip(1)}:${port}`, hostname: 'agent2.test' });
  await agent.start();
  t.teardown(() => agent.stop());
  await agent.register();
  const app = { id: '/group/web', cmd: 'sleep 1000', instances: 2, cpus: 0.1, mem: 16, labels: { a: 'b' } };
  t.equal((await requestJson(`${marathon}/v2/apps`, { body: app })).status, 201);
  await eventually(() => agent.running.size === 2 && [...agent.running.values()].every((s) => s === 'TASK_RUNNING'), 10000, 50, '2 running');
  const running = async () => {
    const st = (await requestJson(`${mesos}/master/state`)).body as any;
    return (st.frameworks[0]?.tasks ?? []).filter((x: any) => x.state === 'TASK_RUNNING').map((x: any) => x.id).sort();
  };
  await eventually(async () => (await running()).length === 2, 10000, 50, 'state shows 2 running');
  const tasksBefore = await running();
  const before = (await requestJson(`${mesos}/master/state`)).body as any;

  m.kill('SIGKILL');
  await m.exited;
  m = spawnTracked(t, process.execPath, args, { env });
  await m.waitFor(/sextant master listening/, 20000);

  const after = (await requestJson(`${mesos}/master/state`)).body as any;
  t.equal(after.id, before.id, 'same master id');
  t.same(after.slaves.map((s: any) => s.id), [agent.id], 'agent still registered');
  t.equal(after.frameworks[0].id, before.frameworks[0].id, 'same marathon framework id');
  t.same(await running(), tasksBefore, 'same tasks, still running');
  const apps = ((await requestJson(`${marathon}/v2/apps`)).body as any).apps;
  t.same(apps.map((a: any) => [a.id, a.instances, a.labels]), [['/group/web', 2, { a: 'b' }]], 'app still there');
  t.equal(await agent.heartbeat(), 200, 'agent heartbeats are accepted');

  // The agent re-registers with what it runs: no duplicates, no relaunch.
  await agent.register();
  await new Promise((r) => setTimeout(r, 300)); // give a wrong relaunch a chance to show up
  t.equal(agent.launched.length, 2, 'no task launched again');
  t.same(await running(), tasksBefore, 'still exactly the same 2 tasks');
  const apps2 = ((await requestJson(`${marathon}/v2/apps/group/web`)).body as any).app;
  t.equal(apps2.tasksRunning, 2);
});
