/**
 * Issue #27 part 3 on `sextant up --netns` (root): each agent namespace has a resolv.conf naming
 * its agent's dispatcher, so a process started there with no `@server` (an operator's `dig`, glibc's
 * getaddrinfo in a host-networked task) resolves `.mesos` and VIP names; `up` removes those files on
 * exit. With SEXTANT_L4LB_DRIVER=userspace the VIPs are served (the proxy makes them local on its
 * dummy interface), and "ready" is printed only once every agent applied the current version.
 */
import t, { type Test } from 'tap';
import { execFile } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { promisify } from 'node:util';
import { requestJson } from '../../common/http.js';
import { eventually, requireNetns, requireTools } from '../lib/index.js';
import { startNetnsUp, type NetnsCluster } from './netns-up.js';

t.setTimeout(300_000);
requireNetns();
requireTools('ip', 'dig', 'curl', 'getent');

const pexec = promisify(execFile);
const VIP_NAME = 'hello.marathon.l4lb.thisdcos.directory';

/** Run argv as an operator does: `ip netns exec <ns> argv` (the one way in, with the namespace's /etc/netns files). */
async function inNs(ns: string, argv: string[], timeoutMs = 15_000): Promise<string> {
  return (await pexec('ip', ['netns', 'exec', ns, ...argv], { timeout: timeoutMs, encoding: 'utf8' })).stdout;
}

async function appliedEverywhere(t: Test, c: NetnsCluster): Promise<void> {
  const s = (await requestJson(`${c.master}/v1/control/agents`)).body as { version: number; agents: { agent_id: string; applied: number }[] };
  for (const a of c.agents) t.equal(s.agents.find((r) => r.agent_id === a.id)?.applied, s.version, `agent ${a.id} applied version ${s.version} when up said ready`);
}

const etcDirs = (prefix: string) => (existsSync('/etc/netns') ? readdirSync('/etc/netns').filter((d) => d.startsWith(prefix)) : []);

t.test('names resolve in every agent namespace through its dispatcher', async (t) => {
  const c = await startNetnsUp(t, 2, {}, { example: true });
  await appliedEverywhere(t, c);
  t.match(c.up.output(), /^ {2}names +ip netns exec \S+a1 dig hello\.marathon\.mesos/m, 'the summary says how to resolve names in a namespace');
  const tasks = ((await requestJson(`${c.marathon}/v2/apps/hello/tasks`)).body as { tasks: { host: string }[] }).tasks;
  const hosts = [...new Set(tasks.map((x) => x.host))].sort();
  for (const a of c.agents) {
    t.match(await inNs(a.ns, ['cat', '/etc/resolv.conf']), new RegExp(`^nameserver ${a.ip.replace(/\./g, '\\.')}$`, 'm'), `${a.ns} resolv.conf names its agent's dispatcher`);
    const ips = await eventually(async () => {
      const out = await inNs(a.ns, ['dig', '+short', '+time=1', '+tries=1', 'hello.marathon.mesos', 'A']).catch(() => '');
      const got = out.split('\n').filter(Boolean).sort();
      return got.length === hosts.length ? got : undefined;
    }, 20_000, 200, `hello.marathon.mesos from ${a.ns}`);
    t.same(ips, hosts, `${a.ns}: dig with no @server answers the task hosts`);
    const vip = await eventually(async () => (await inNs(a.ns, ['getent', 'ahostsv4', VIP_NAME]).catch(() => '')).match(/^(11\.\S+)/m)?.[1], 20_000, 200, `${VIP_NAME} through getaddrinfo in ${a.ns}`);
    t.ok(vip, `${a.ns}: getaddrinfo resolves ${VIP_NAME} -> ${vip}`);
    const answer = await inNs(a.ns, ['curl', '-sS', '-m', '5', `http://${VIP_NAME}/`]);
    t.match(answer, /^hello from hello\./, `${a.ns}: curl by VIP name reaches the app`);
  }
  t.equal(etcDirs(c.prefix).length, 2, 'one /etc/netns directory per agent namespace (none for the hub)');
  t.equal(await c.stop(), 0, 'up exits 0 on SIGINT');
  t.same(etcDirs(c.prefix), [], 'up removed its /etc/netns directories');
});

t.test('SEXTANT_L4LB_DRIVER=userspace serves the VIPs under --netns', async (t) => {
  const c = await startNetnsUp(t, 1, { SEXTANT_L4LB_DRIVER: 'userspace' }, { example: true });
  const a = c.agents[0]!;
  await appliedEverywhere(t, c);
  const vip = (await inNs(a.ns, ['dig', '+short', '+time=1', '+tries=1', VIP_NAME])).trim();
  t.match(vip, /^11\./, `${VIP_NAME} -> ${vip}`);
  t.match(await inNs(a.ns, ['ip', '-o', 'addr', 'show', 'dev', 'lo']), new RegExp(` ${vip.replace(/\./g, '\\.')}/32 .*lo:sxvip`), 'the VIP is an address of the namespace\'s lo, labelled as the proxy\'s');
  for (let i = 0; i < 5; i++) t.match(await inNs(a.ns, ['curl', '-sS', '-m', '5', `http://${VIP_NAME}/`]), /^hello from hello\./, `connection ${i + 1} through the userspace proxy`);
  const log = await inNs(a.ns, ['sh', '-c', `cat '${a.dir}/../logs/agent-1.log'`]);
  t.notMatch(log, /Cannot assign requested address|EADDRNOTAVAIL/, 'no listen failed');
});
