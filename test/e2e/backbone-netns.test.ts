/**
 * `sextant up --netns` (root): agents in their own namespaces on a bridge, the master reachable
 * from the host through the forwarder, the example app deployed and answering inside the
 * namespaces; Ctrl-C (SIGINT) removes the namespaces and every process.
 */
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requestJson } from '../../common/http.js';
import { INSECURE_DEV, deleteNetns, eventually, freePort, requireNetns, spawnTracked, uniqueName } from '../lib/index.js';
import { sextantJs } from './backbone-lib.js';

t.setTimeout(120_000);

const netnsList = () => execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' });

t.test('sextant up --netns', async (t) => {
  requireNetns();
  const workDir = mkdtempSync(join(tmpdir(), `${uniqueName('upns')}-`));
  t.teardown(() => rmSync(workDir, { recursive: true, force: true }));
  const [mp, mkp, ap] = [await freePort(), await freePort(), await freePort()];
  const up = spawnTracked(t, process.execPath, [sextantJs, 'up', '--netns', '--agents', '2', '--work-dir', workDir, '--master-port', String(mp), '--marathon-port', String(mkp), '--agent-port', String(ap), '--admin-port', String(await freePort()), ...INSECURE_DEV]);
  t.teardown(() => {
    // If the test failed before a clean stop: remove what up created (by name and pid).
    const pfx = up.output().match(/(sxup[0-9a-f]{4})/)?.[1];
    if (pfx) for (const n of netnsList().split('\n').map((l) => l.split(' ')[0]!).filter((n) => n.startsWith(pfx))) deleteNetns(n);
    const mpid = up.output().match(/master: pid (\d+)/)?.[1];
    if (!mpid) return;
    try {
      process.kill(Number(mpid), 'SIGKILL');
    } catch {
      /* gone */
    }
  });
  await up.waitFor(/sextant up: ready/, 90_000);
  const prefix = up.output().match(/agents run in namespaces (sxup[0-9a-f]+)a1/)?.[1];
  t.ok(prefix, 'namespaces named with a per-run prefix');
  for (const n of ['hub', 'a1', 'a2']) t.match(netnsList(), `${prefix}${n}`, `namespace ${prefix}${n} exists`);

  const st = (await requestJson(`http://127.0.0.1:${mp}/master/state`)).body as any;
  t.equal(st.slaves.length, 2, 'master reachable from the host; two agents registered');
  const ips = st.slaves.map((s: any) => s.pid.split('@')[1].split(':')[0]);
  t.ok(ips.every((ip: string) => ip.startsWith('10.')), 'agents on the bridge network');
  const tasks = ((await requestJson(`http://127.0.0.1:${mkp}/v2/apps/hello/tasks`)).body as any).tasks;
  t.equal(tasks.length, 2, 'example app has 2 tasks');
  for (const task of tasks) {
    const out = execFileSync('ip', ['netns', 'exec', `${prefix}hub`, process.execPath, '-e', `fetch("http://${task.host}:${task.ports[0]}/").then(r=>r.text()).then(t=>process.stdout.write(t))`], { encoding: 'utf8', timeout: 15000 });
    t.match(out, `hello from ${task.id}`, `${task.id} answers across the bridge`);
  }

  // The app's VIP from a host-network client on agent 1, as the summary prints it: the name
  // through agent 1's dispatcher, the connection balanced by agent 1's L4LB (nftables here).
  const vipLine = up.output().match(/vip +ip netns exec (\S+) sh -c 'curl http:\/\/\$\(dig \+short @(\S+) (\S+)\)\/'/);
  t.ok(vipLine, 'the summary says how to reach the VIP');
  const [, agentNs, agentIp, name] = vipLine!;
  t.equal(agentNs, `${prefix}a1`);
  const inAgent = (cmd: string, args: string[]) => execFileSync('ip', ['netns', 'exec', agentNs!, cmd, ...args], { encoding: 'utf8', timeout: 15000 }).trim();
  const vip = await eventually(() => inAgent('dig', ['+short', '+time=1', '+tries=1', `@${agentIp}`, name!]).split('\n').find((l) => l.startsWith('11.')), 20_000, 200, `${name} resolving at ${agentIp}`);
  const answer = await eventually(
    () => {
      try {
        return inAgent(process.execPath, ['-e', `fetch("http://${vip}/",{signal:AbortSignal.timeout(3000)}).then(r=>r.text()).then(t=>process.stdout.write(t))`]);
      } catch {
        return undefined;
      }
    },
    30_000,
    250,
    `a connection to ${vip}:80 from ${agentNs}`,
  );
  t.match(answer, /^hello from hello\./, `${name} -> ${vip}:80 reaches a task of the app from the agent's own namespace`);

  up.kill('SIGINT');
  await up.exited;
  t.notMatch(netnsList(), prefix!, 'namespaces removed');
  t.match(up.output(), /stopped/);
});
