/**
 * Issue #27 part 4 on `sextant up --netns` (root), two agents: the master is killed (SIGKILL, by
 * the PID `up` printed) and started again on the same work dir (its file store).
 *  - Fail-static: while it is down, a client in agent 1's namespace keeps resolving the example
 *    app's VIP name through the dispatcher (getaddrinfo, through the namespace's resolv.conf),
 *    keeps connecting to the VIP and to a task on the overlay on agent 2, and a task on an
 *    isolated (deny) network keeps being refused, for FAIL_STATIC_MS (a minute, as the issue asks;
 *    the loop is also bounded at 200 rounds).
 *  - State survives on the file store: named-VIP IPs, overlay VTEPs and subnets, networks,
 *    isolation policies and rules are identical after the restart, and the rule counters did not
 *    drop.
 *  - Nothing is rewritten that did not change: every agent's links (with their ifindex), routes,
 *    policy rules, neighbours, fdb entries and nftables ruleset with rule handles (counters aside)
 *    are the same after the agents took the restarted master's snapshot.
 */
import t from 'tap';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { requestJson } from '../../common/http.js';
import { INSECURE_DEV, eventually, requireNetns, requireTools, spawnTracked } from '../lib/index.js';
import { sextantJs } from './backbone-lib.js';
import { startNetnsUp, taskNetns, type NetnsCluster } from './netns-up.js';
import { settledAgentKernel } from './agent-kernel.js';

t.setTimeout(300_000);
requireNetns();
requireTools('ip', 'bridge', 'nft', 'nsenter', 'curl', 'getent');

const pexec = promisify(execFile);
const FAIL_STATIC_MS = 60_000;
const VIP_NAME = 'hello.marathon.l4lb.thisdcos.directory';

const app = (id: string, network: string, instances: number) => ({
  id: `/${id}`,
  cmd: `exec '${process.execPath}' -e 'require("http").createServer((q,r)=>r.end(process.env.MESOS_TASK_ID)).listen(+process.env.PORT0)'`,
  instances,
  cpus: 0.1,
  mem: 64,
  networks: [{ mode: 'container', name: network }],
  container: { type: 'MESOS', portMappings: [{ containerPort: 8080, name: 'http' }] },
  constraints: [['hostname', 'UNIQUE']],
});

interface Task {
  id: string;
  agent: number;
  ip: string;
}

async function tasksOf(c: NetnsCluster, name: string, n: number): Promise<Task[]> {
  return eventually(async () => {
    const st = (await requestJson(`${c.master}/master/state`)).body as any;
    const ts = (st.frameworks ?? []).flatMap((f: any) => f.tasks ?? []).filter((x: any) => x.name === name && x.state === 'TASK_RUNNING');
    const out = ts.map((x: any) => ({
      id: x.id,
      agent: c.agents.findIndex((a) => a.id === x.slave_id) + 1,
      ip: [...x.statuses].reverse().find((s: any) => s.container_status?.network_infos)?.container_status.network_infos[0].ip_addresses[0].ip_address,
    }));
    return out.length === n && out.every((x: Task) => x.ip) ? (out as Task[]) : undefined;
  }, 60_000, 250, `${n} running tasks of /${name}`);
}

async function settled(c: NetnsCluster, what: string): Promise<void> {
  await eventually(async () => {
    const r = await requestJson(`${c.master}/v1/control/agents`).catch(() => undefined);
    const s = r?.body as { version: number; agents: { agent_id: string; applied: number; connected: boolean }[] } | undefined;
    return r?.status === 200 && c.agents.every((a) => s!.agents.find((x) => x.agent_id === a.id && x.connected)?.applied === s!.version) ? true : undefined;
  }, 60_000, 200, `every agent applying the current version (${what})`);
}

/** Master-side state that must survive: VIP IPs (as agent 1 serves them), VTEPs and subnets, networks, isolation. */
async function masterState(c: NetnsCluster, agentApi: string): Promise<{ vips: unknown; overlay: unknown; networks: unknown; isolation: { policies: unknown[]; rules: unknown[] }; packets: Map<string, number>; countersFrom: string[] }> {
  const get = async (url: string) => (await requestJson(url)).body as any;
  const iso = await get(`${c.master}/v1/networks/isolation`);
  const strip = (xs: any[]) => xs.map(({ packets, bytes, ...rest }: any) => rest);
  const vips = (await c.inAgent(1, ['curl', '-sS', '-m', '5', `${agentApi}/v1/vips`])).trim();
  const overlay = await get(`${c.master}/v1/overlay/agents`);
  return {
    vips: JSON.parse(vips),
    overlay: JSON.parse(JSON.stringify(overlay, (k, v) => (/_at$|^last_|^seen/.test(k) ? undefined : v))),
    networks: await get(`${c.master}/v1/networks`),
    isolation: { policies: strip(iso.policies), rules: strip(iso.rules) },
    countersFrom: iso.counters_from,
    packets: new Map([...iso.policies.map((p: any) => [`default:${p.network}`, p.packets]), ...iso.rules.map((r: any) => [r.key, r.packets])]),
  };
}

t.test('master kill -9 and restart: fail-static, state kept, nothing rewritten', async (t) => {
  const c = await startNetnsUp(t, 2, {}, { example: true });
  const out = c.up.output();
  const [, masterIp, masterPort] = out.match(/starting master on ([\d.]+):(\d+)/)!;
  const marathonPort = c.marathon.split(':').pop()!;
  const agentPort = out.match(/^agent 1: pid \d+ http:\/\/[\d.]+:(\d+)/m)![1]!;
  const agentApi = `http://${c.agents[0]!.ip}:${agentPort}`;
  const hub = `${c.prefix}hub`;

  const post = async (path: string, body: unknown) => t.equal((await requestJson(`${path.startsWith('/v2') ? c.marathon : c.master}${path}`, { body })).status, 201, `POST ${path}`);
  await post('/v1/networks', { name: 'iso', subnet: '10.232.0.0/16' });
  await post('/v1/networks/isolation', { network: 'iso', default: 'deny' });
  await post('/v2/apps', app('web', 'dcos', 2));
  await post('/v2/apps', app('isoapp', 'iso', 1));
  const web = await tasksOf(c, 'web', 2);
  const [isoTask] = await tasksOf(c, 'isoapp', 1);
  const remote = web.find((x) => x.agent === 2)!;
  t.ok(remote, 'a web task on agent 2');
  await settled(c, 'apps running');

  // One round of what a client on agent 1 does; throws naming what failed.
  const round = async () => {
    const vip = (await c.inAgent(1, ['getent', 'ahostsv4', VIP_NAME], 5000)).match(/^(11\.\S+)/m)?.[1];
    if (!vip) throw new Error(`${VIP_NAME} did not resolve`);
    const hello = await c.inAgent(1, ['curl', '-sS', '-m', '3', `http://${vip}/`], 5000);
    if (!/^hello from hello\./.test(hello)) throw new Error(`VIP ${vip} answered ${JSON.stringify(hello)}`);
    const task = await c.inAgent(1, ['curl', '-sS', '-m', '3', `http://${remote.ip}:8080/`], 5000);
    if (task !== remote.id) throw new Error(`overlay task ${remote.ip} answered ${JSON.stringify(task)}`);
    const denied = await c.inAgent(isoTask!.agent, ['ip', 'netns', 'exec', taskNetns(isoTask!.id), 'curl', '-sS', '-m', '2', `http://${web[0]!.ip}:8080/`], 5000).then(
      (body) => `answered ${JSON.stringify(body)}`,
      (e: { code?: number }) => e.code,
    );
    if (denied !== 7) throw new Error(`iso -> dcos was not refused (curl: ${denied})`);
  };
  await eventually(() => round().then(() => true, () => undefined), 30_000, 250, 'a first clean round');
  const kernelBefore = [await settledAgentKernel(c, 1), await settledAgentKernel(c, 2)];
  const before = await masterState(c, agentApi);
  t.same(before.countersFrom, c.agents.map((a) => a.id).sort(), 'the master sums counters from both agents (at the port they registered with)');
  t.ok((before.packets.get('default:iso') ?? 0) > 0, `iso's refusals counted (${before.packets.get('default:iso')})`);

  const masterPid = Number(out.match(/^master: pid (\d+)/m)![1]);
  process.kill(masterPid, 'SIGKILL');
  await eventually(() => (requestJson(`${c.master}/master/state`, { timeoutMs: 500 }).then(() => undefined, () => true)), 10_000, 100, 'the master gone');
  const failures: string[] = [];
  let rounds = 0;
  for (const end = Date.now() + FAIL_STATIC_MS; Date.now() < end && rounds < 200; rounds++) await round().catch((e: Error) => failures.push(e.message));
  t.same(failures, [], `fail-static: ${rounds} rounds with the master down, none failed`);
  t.ok(rounds >= 3, `(${rounds} rounds)`);

  const master = spawnTracked(t, 'ip', ['netns', 'exec', hub, process.execPath, sextantJs, 'master', '--ip', masterIp!, '--port', masterPort!, '--marathon-port', marathonPort, '--work-dir', join(c.workDir, 'master'), '--agent-timeout-ms', '15000', ...INSECURE_DEV], { graceMs: 10_000 });
  await master.waitFor(/sextant master listening/, 30_000);
  await settled(c, 'after the restart');
  await eventually(async () => (await masterState(c, agentApi)).countersFrom.length === c.agents.length || undefined, 20_000, 250, 'the isolation view with both agents\' counters back');
  const after = await masterState(c, agentApi);
  t.same(after.vips, before.vips, 'named-VIP IPs and backends the same');
  t.same(after.overlay, before.overlay, 'overlay VTEPs and subnets the same');
  t.same(after.networks, before.networks, 'networks the same');
  t.same(after.isolation, before.isolation, 'isolation policies and rules the same');
  for (const [k, n] of before.packets) t.ok((after.packets.get(k) ?? -1) >= n, `counter ${k}: ${after.packets.get(k)} packets (had ${n} before the restart)`);
  t.ok((after.packets.get('default:iso') ?? 0) > (before.packets.get('default:iso') ?? 0), 'the refusals while the master was down were counted');
  await round();
  t.pass('a round after the restart');
  for (const i of [1, 2]) {
    const k = await settledAgentKernel(c, i);
    for (const key of Object.keys(k)) t.equal(k[key], kernelBefore[i - 1]![key], `agent ${i}: ${key} not rewritten`);
  }
});
