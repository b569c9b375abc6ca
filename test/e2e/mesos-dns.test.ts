/**
 * Mesos-DNS fed by the Sextant master (mesosDnsMasterPlugin wired in cli/plugins.ts): an app
 * posted to Marathon resolves as `<app>.marathon.mesos` within 1 s of its TASK_RUNNING status.
 */
import t from 'tap';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { requestJson } from '../../common/http.js';
import { requireTools, uniqueName } from '../lib/index.js';
import { httpServerCmd, startUp } from './backbone-lib.js';

const pexec = promisify(execFile);
const { dig } = requireTools('dig');

async function resolve(ip: string, name: string): Promise<string[]> {
  try {
    const { stdout } = await pexec(dig, [`@${ip}`, '-p', '61053', name, 'A', '+short', '+tries=1', '+time=1']);
    return stdout.trim().split('\n').filter(Boolean);
  } catch {
    return [];
  }
}

t.test('app resolves within 1 s of TASK_RUNNING', async (t) => {
  const c = await startUp(t, 1, 3000);
  const masterIp = `${c.ipBase}.1`;
  const app = uniqueName('web').toLowerCase();
  const r = await requestJson(`${c.marathon}/v2/apps`, {
    body: { id: `/${app}`, cmd: httpServerCmd(app), instances: 1, cpus: 0.1, mem: 32, portDefinitions: [{ port: 0, name: 'http', protocol: 'tcp' }] },
  });
  t.ok(r.status < 300, `app created (${r.status})`);
  const deadline = Date.now() + 60_000;
  let runningAt: number | undefined;
  let resolvedAt: number | undefined;
  let ips: string[] = [];
  while (Date.now() < deadline && resolvedAt === undefined) {
    ips = await resolve(masterIp, `${app}.marathon.mesos`);
    if (ips.length) resolvedAt = Date.now() / 1000;
    if (runningAt === undefined || resolvedAt !== undefined) {
      const st = (await requestJson(`${c.master}/master/state`)).body as any;
      for (const f of st.frameworks ?? [])
        for (const task of f.tasks ?? [])
          if (task.name === app && task.state === 'TASK_RUNNING')
            for (const s of task.statuses ?? []) if (s.state === 'TASK_RUNNING') runningAt = Math.min(runningAt ?? Infinity, s.timestamp);
    }
    if (resolvedAt === undefined) await new Promise((res) => setTimeout(res, 20));
  }
  t.ok(resolvedAt !== undefined, `resolved ${app}.marathon.mesos (is mesosDnsMasterPlugin() wired in cli/plugins.ts?)`);
  t.ok(runningAt !== undefined, 'saw TASK_RUNNING in /master/state');
  t.same(ips, [c.agentIp(1)], 'answer is the agent IP (host networking)');
  const lag = resolvedAt! - runningAt!;
  t.ok(lag < 1, `resolved ${lag.toFixed(3)} s after TASK_RUNNING`);
});
