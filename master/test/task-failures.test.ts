/**
 * Why a task failed reaches the user, and a healthy app stops being locked in seconds: a real
 * master and a real agent running real processes on a loopback block. Waits are on events
 * (in-process subscription to the Marathon event bus) or polls bounded in time.
 */
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requestJson } from '../../common/index.js';
import { Agent } from '../../agent/index.js';
import { Master } from '../master.js';
import type { MarathonEvent } from '../marathon/events.js';
import { eventually, loopbackBlock } from '../../test/lib/index.js';

process.env.SEXTANT_LOG_LEVEL ??= 'warn';

interface Teardownable {
  teardown(fn: () => unknown): void;
}

async function cluster(t: Teardownable) {
  const ip = loopbackBlock();
  const workDir = mkdtempSync(join(tmpdir(), 'sx-marathon-fail-'));
  t.teardown(() => rmSync(workDir, { recursive: true, force: true }));
  const master = new Master({ ip: ip(1), port: 0, marathonPort: 0, workDir: join(workDir, 'master') });
  await master.start();
  t.teardown(() => master.stop());
  const agent = new Agent({ masters: [`${ip(1)}:${master.port}`], ip: ip(2), port: 0, hostname: ip(2), workDir: join(workDir, 'agent') });
  await agent.start();
  t.teardown(async () => {
    await agent.killAllTasks(100, 5000);
    await agent.stop();
  });
  await agent.registered();
  const marathon = `http://${ip(1)}:${master.marathonPort}`;
  const api = (path: string, opts: { method?: string; body?: unknown } = {}) => requestJson(`${marathon}${path}`, opts) as Promise<{ status: number; body: any }>;
  /** The first event of a type matching `pred`, within `ms`. */
  const nextEvent = (type: string, pred: (e: MarathonEvent) => boolean, ms: number) =>
    new Promise<MarathonEvent>((resolve, reject) => {
      const timer = setTimeout(() => (off(), reject(new Error(`no ${type} within ${ms} ms`))), ms);
      const off = master.events.on((e) => {
        if (e.eventType !== type || !pred(e)) return;
        clearTimeout(timer);
        off();
        resolve(e);
      });
    });
  return { master, agent, api, nextEvent, ip };
}

t.test('a task that exits 1: lastTaskFailure, /v2/queue with the delay, status_update_event with the message', async (t) => {
  const c = await cluster(t);
  const failed = c.nextEvent('status_update_event', (e) => e.appId === '/crash' && e.taskStatus === 'TASK_FAILED', 15000);
  // The health check never passes, so the start deployment waits (it would finish on the brief TASK_RUNNING otherwise).
  const healthChecks = [{ protocol: 'COMMAND', command: { value: 'false' }, gracePeriodSeconds: 60, intervalSeconds: 60 }];
  const app = { id: '/crash', cmd: 'echo starting; exit 1', instances: 1, cpus: 0.1, mem: 16, backoffSeconds: 60, portDefinitions: [], healthChecks };
  t.equal((await c.api('/v2/apps', { body: app })).status, 201);
  const ev = await failed;
  t.equal(ev.message, 'Command exited with status 1', 'status_update_event carries the message');

  const shown = (await c.api('/v2/apps/crash')).body.app;
  t.match(shown.lastTaskFailure, { appId: '/crash', state: 'TASK_FAILED', message: 'Command exited with status 1', host: c.ip(2), taskId: ev.taskId, version: shown.versionInfo.lastConfigChangeAt });
  t.match(shown.lastTaskFailure.timestamp, /^\d{4}-\d\d-\d\dT/);

  const queue = (await c.api('/v2/queue')).body.queue;
  t.equal(queue.length, 1, 'the app waits in the queue');
  t.equal(queue[0].count, 1);
  t.equal(queue[0].app.id, '/crash');
  t.ok(queue[0].delay.timeLeftSeconds > 50 && queue[0].delay.timeLeftSeconds <= 60, `launch delayed by the backoff (${queue[0].delay.timeLeftSeconds} s left)`);
  t.equal(queue[0].delay.overdue, false);
  t.equal(queue[0].app.lastTaskFailure.message, 'Command exited with status 1', 'the queue shows the last failure');

  const put = await c.api('/v2/apps/crash', { method: 'PUT', body: { instances: 2 } });
  t.equal(put.status, 409, `locked while the start deployment waits: ${JSON.stringify(put.body)}`);
  t.match(put.body.message, new RegExp(`Deployment ${put.body.deployments[0].id} \\(StartApplication of /crash\\) is waiting for 1 of 1 task\\(s\\) to launch \\(launch delayed \\d+ s by backoff; last failure: Command exited with status 1\\)`));

  const relaunched = c.nextEvent('status_update_event', (e) => e.appId === '/crash' && e.taskStatus === 'TASK_FAILED' && e.taskId !== ev.taskId, 10000);
  const del = await requestJson(`http://${c.ip(1)}:${c.master.marathonPort}/v2/queue/crash/delay`, { method: 'DELETE' });
  t.equal(del.status, 204, 'DELETE /v2/queue/{app}/delay');
  await relaunched;
  t.pass('launched again at once after the delay was reset');
});

t.test('an HTTP health check that passes after ~1 s: locked with a 409 naming the wait, then unlocked in seconds', async (t) => {
  const c = await cluster(t);
  const app = {
    id: '/slow',
    cmd: `sleep 1; exec python3 -m http.server $PORT0 --bind ${c.ip(2)}`,
    instances: 1,
    cpus: 0.1,
    mem: 32,
    portDefinitions: [{ port: 0, name: 'http' }],
    healthChecks: [{ protocol: 'HTTP', path: '/', portIndex: 0, gracePeriodSeconds: 30, intervalSeconds: 60, timeoutSeconds: 2, maxConsecutiveFailures: 3 }],
  };
  const post = await c.api('/v2/apps', { body: app });
  t.equal(post.status, 201);
  const deploymentId = post.body.deployments[0].id;
  const success = c.nextEvent('deployment_success', (e) => e.id === deploymentId, 10000);
  const started = Date.now();

  await eventually(async () => (await c.api('/v2/apps/slow')).body.app.tasksRunning === 1, 8000, 50, 'task running');
  const locked = await c.api('/v2/apps/slow', { method: 'PUT', body: { instances: 2 } });
  if (locked.status === 409) {
    t.equal(locked.body.deployments[0].id, deploymentId, '409 names the deployment');
    t.match(locked.body.message, /waiting for .*(first health check \(HTTP, grace period 30 s\)|to reach TASK_RUNNING)/, `409 says what it waits for: ${locked.body.message}`);
  } else t.fail(`expected 409 while the first health check is pending, got ${locked.status}`);

  await success;
  const took = Date.now() - started;
  t.ok(took < 8000, `deployment finished ${took} ms after the task started, not an interval (60 s) later`);
  const shown = (await c.api('/v2/apps/slow')).body.app;
  t.equal(shown.tasksHealthy, 1);
  t.same(shown.deployments, []);
  t.equal((await c.api('/v2/apps/slow', { method: 'PUT', body: { instances: 1, env: { X: '1' } } })).status, 200, 'no longer locked');
});

t.test('an unhealthy task: failed_health_check_event with the message', async (t) => {
  const c = await cluster(t);
  const app = {
    id: '/sick',
    cmd: 'sleep 100',
    instances: 1,
    cpus: 0.1,
    mem: 16,
    portDefinitions: [{ port: 0 }],
    healthChecks: [{ protocol: 'TCP', portIndex: 0, gracePeriodSeconds: 0, intervalSeconds: 1, timeoutSeconds: 1, maxConsecutiveFailures: 0 }],
  };
  const failedCheck = c.nextEvent('failed_health_check_event', (e) => e.appId === '/sick', 10000);
  t.equal((await c.api('/v2/apps', { body: app })).status, 201);
  const ev = await failedCheck;
  t.match(ev.message, /ECONNREFUSED/, 'the probe failure reaches the event');
  t.match(ev.healthCheck, { protocol: 'TCP', portIndex: 0 });
  t.match(ev.taskId, /^sick\./);
});
