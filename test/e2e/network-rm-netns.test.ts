/**
 * Issue #27 part 4, "removing a network cleans the kernel", on `sextant up --netns` (root) with two
 * agents: create a network (IPv4 and IPv6) with a deny policy and a rule to the default network,
 * check every agent programmed it, then `sextant network rm` it (the CLI, as an operator does) and
 * check each agent's kernel is back to what it was before the network existed: links, routes of
 * every table, policy rules, neighbours, fdb entries and the nftables ruleset (counters aside).
 */
import t from 'tap';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { requestJson } from '../../common/http.js';
import { eventually, requireNetns, requireTools } from '../lib/index.js';
import { sextantJs } from './backbone-lib.js';
import { startNetnsUp, type NetnsCluster } from './netns-up.js';
import { settledAgentKernel } from './agent-kernel.js';

t.setTimeout(240_000);
requireNetns();
requireTools('ip', 'bridge', 'nft', 'nsenter');

const pexec = promisify(execFile);
const NET = 'rmme';
const SUBNET = '10.231.0.0/16';
const SUBNET6 = 'fd01:e7::/64';

async function settled(c: NetnsCluster, what: string): Promise<number> {
  return eventually(async () => {
    const s = (await requestJson(`${c.master}/v1/control/agents`)).body as { version: number; agents: { agent_id: string; applied: number }[] };
    return c.agents.every((a) => s.agents.find((r) => r.agent_id === a.id)?.applied === s.version) ? s.version : undefined;
  }, 30_000, 100, `every agent applying the current version (${what})`);
}

async function network(c: NetnsCluster, ...args: string[]): Promise<string> {
  return (await pexec(process.execPath, [sextantJs, 'network', ...args, '--master', c.master], { encoding: 'utf8', timeout: 20_000 })).stdout;
}

t.test('sextant network rm leaves no trace of the network on any agent', async (t) => {
  const c = await startNetnsUp(t, 2);
  await settled(c, 'start');
  const before = await Promise.all(c.agents.map((_, i) => settledAgentKernel(c, i + 1)));

  await network(c, 'create', NET, '--subnet', SUBNET, '--subnet6', SUBNET6, '--prefix6', '80');
  await network(c, 'isolate', NET, 'deny');
  await network(c, 'allow', NET, 'dcos', '--ports', '80', '--protocol', 'tcp');
  await settled(c, 'network created');
  for (const [i, a] of c.agents.entries()) {
    const k = await settledAgentKernel(c, i + 1);
    t.match(k.links, /\bm-rmme\b/, `${a.ns}: bridge m-${NET} programmed`);
    t.match(k.routes4, /\b10\.231\.\d+\.0\/24 via 44\.128\.0\.\d+ dev vtep1024/, `${a.ns}: a route to the other agent's slice of ${NET}`);
    t.match(k.rules4, /from 10\.231\.0\.0\/16 lookup 42/, `${a.ns}: a policy rule for ${SUBNET}`);
    t.match(k.routes6, /fd01:e7:/, `${a.ns}: IPv6 routes of ${NET}`);
    t.match(k.nft, /10\.231\.0\.0\/16/, `${a.ns}: nftables elements of ${NET}`);
  }

  t.match(await network(c, 'rm', NET, '--force'), /./, 'network rm answered');
  await settled(c, 'network removed');
  for (const [i, a] of c.agents.entries()) {
    const after = await eventually(async () => {
      const k = await settledAgentKernel(c, i + 1);
      return /m-rmme|10\.231\.|fd01:e7:/.test(Object.values(k).join('\n')) ? undefined : k;
    }, 20_000, 200, `${a.ns} without any trace of ${NET}`);
    // nft rule handles aside: the overlay's table is rewritten whole when a network goes.
    const noHandles = (k: Record<string, string>, key: string) => (key === 'nft' ? k[key]!.replace(/ # handle \d+/g, '') : k[key]);
    for (const key of Object.keys(before[i]!)) t.equal(noHandles(after, key), noHandles(before[i]!, key), `${a.ns}: ${key} as before the network existed`);
  }
});
