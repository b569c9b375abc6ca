/**
 * Issue #24 end to end, on a `sextant up --netns` cluster: bad VIPs and networks answer 422 and
 * nothing reaches an agent. The control plane's snapshot version stays where it was (nothing
 * entered the snapshot), the agent has applied that version, and its kernel state (`nft list
 * ruleset`, `ip -d link`, `ip route`) is the same before and after the requests.
 */
import t from 'tap';
import { requestJson } from '../../common/http.js';
import { eventually, requireNetns } from '../lib/index.js';
import { startNetnsUp } from './netns-up.js';

t.setTimeout(180_000);

t.test('bad VIPs and networks never reach an agent', async (t) => {
  requireNetns();
  const c = await startNetnsUp(t, 1);
  const agent = c.agents[0]!;
  const control = async () => (await requestJson(`${c.master}/v1/control/agents`)).body as { version: number; agents: { agent_id: string; applied: number }[] };
  const settled = () =>
    eventually(async () => {
      const s = await control();
      return s.agents.length === 1 && s.agents[0]!.applied === s.version ? s.version : undefined;
    }, 30_000, 100, 'the agent applying the current snapshot');
  const kernel = async () => ({
    nft: await c.inAgent(1, ['nft', 'list', 'ruleset']),
    // Bridge timers tick on their own; everything else must be identical.
    link: (await c.inAgent(1, ['ip', '-d', 'link'])).replace(/\b(\w+_timer)\s+[\d.]+/g, '$1 -'),
    route: await c.inAgent(1, ['ip', 'route']),
  });
  const version = await settled();
  const before = await kernel();

  const vip = (value: string) => ({ id: '/hijack', cmd: 'sleep 100', instances: 1, cpus: 0.1, mem: 16, portDefinitions: [{ port: 0, labels: { VIP_0: value } }] });
  const rows: [string, string, unknown, string, RegExp][] = [
    ['VIP on 127.0.0.1:22', `${c.marathon}/v2/apps`, vip('127.0.0.1:22'), '/portDefinitions/0/labels/VIP_0', /loopback/],
    ["VIP on the master's Mesos-DNS HTTP port", `${c.marathon}/v2/apps`, vip('127.0.0.1:8123'), '/portDefinitions/0/labels/VIP_0', /loopback/],
    ["VIP on the agent's own address", `${c.marathon}/v2/apps`, vip(`${agent.ip}:5051`), '/portDefinitions/0/labels/VIP_0', new RegExp(`belongs to agent|outside the VIP ranges`)],
    ['VIP garbage', `${c.marathon}/v2/apps`, vip('garbage'), '/portDefinitions/0/labels/VIP_0', /VIP label/],
    ['VIP path traversal', `${c.marathon}/v2/apps`, vip('/../../x:80'), '/portDefinitions/0/labels/VIP_0', /VIP label/],
    ['instances 1e9', `${c.marathon}/v2/apps`, { ...vip('/ok:80'), instances: 1e9 }, '/instances', /maximum 1000/],
    ['network 127.0.0.0/8', `${c.master}/v1/networks`, { name: 'lo', subnet: '127.0.0.0/8' }, 'subnet', /overlaps loopback/],
    ['network in the VIP range', `${c.master}/v1/networks`, { name: 'vips', subnet: '11.0.0.0/16' }, 'subnet', /VIP range/],
    ["network over the agent's address", `${c.master}/v1/networks`, { name: 'under', subnet: `${agent.ip.split('.').slice(0, 2).join('.')}.0.0/16` }, 'subnet', /overlaps (agent \S+|the master) \(10\./],
  ];
  for (const [what, url, body, field, rule] of rows) {
    const r = await requestJson(url, { body });
    t.equal(r.status, 422, `${what}: 422`);
    const d = (r.body as { details?: { path: string; errors: string[] }[] }).details?.find((x) => x.path === field);
    t.ok(d?.errors.some((e) => rule.test(e)), `${what}: ${field} ${rule} (got ${JSON.stringify((r.body as { details?: unknown }).details)})`);
  }
  t.equal((await requestJson(`${c.marathon}/v2/apps`)).body && ((await requestJson(`${c.marathon}/v2/apps`)).body as { apps: unknown[] }).apps.length, 0, 'no app stored');
  t.equal(await settled(), version, 'the control-plane snapshot did not change');
  const after = await kernel();
  t.equal(after.nft, before.nft, 'nft list ruleset unchanged in the agent');
  t.equal(after.link, before.link, 'ip -d link unchanged in the agent');
  t.equal(after.route, before.route, 'ip route unchanged in the agent');
});
