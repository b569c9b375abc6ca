/**
 * Isolation on real kernels: networks `hr` and `it` (both default deny towards other networks),
 * rule "hr -> it tcp port 80 only". Tasks on two agents; REJECT with ICMP admin-prohibited shows
 * up as EHOSTUNREACH at once; counters per rule visible on the agent and summed on the master.
 */
import t from 'tap';
import { createRegistry, requestJson, Router, serve } from '../../common/index.js';
import { bridgeNamespaces, createNetns, requireNetns, requireTools, type Netns } from '../lib/index.js';
import { OverlayAgentComponent, OverlayMaster } from '../../overlay/index.js';
import { FakeMaster, snapshotOf } from '../../overlay/test/harness.js';
import { addTask6, createTask, tcpConnect, tcpServer } from '../../overlay/test/tasks.js';
import { hostAddr, parseCidr } from '../../common/cidr.js';

requireNetns();
requireTools('ip', 'bridge', 'nft');

t.test('hr -> it port 80 only', async (t) => {
  const nss: Netns[] = [await createNetns(t, 'i0'), await createNetns(t, 'i1')];
  const { addrs } = await bridgeNamespaces(t, nss, '10.78.0');
  const agentApi = new Map<string, string>();
  const m = new FakeMaster();
  const master = new OverlayMaster(m, { agentUrl: (a) => agentApi.get(a.agent_id) });
  await master.start();
  const msrv = await serve(m.router, { host: '127.0.0.1', port: 0 });
  const api = (method: string, path: string, body?: unknown) => requestJson(`http://127.0.0.1:${msrv.address().port}${path}`, { method, body });
  const agents: OverlayAgentComponent[] = [];
  t.teardown(async () => {
    for (const a of agents) await a.stop();
    await msrv.close();
    await master.stop();
  });
  for (const [i, ns] of nss.entries()) {
    const a = new OverlayAgentComponent({ agentId: `agent-${i}`, registry: createRegistry(), netns: ns.name });
    await a.start();
    agents.push(a);
    const router = new Router();
    a.mount(router);
    const srv = await serve(router, { host: '127.0.0.1', port: 0 });
    t.teardown(() => srv.close());
    agentApi.set(`agent-${i}`, `http://127.0.0.1:${srv.address().port}/v1/overlay/isolation`);
  }
  const push = async () => {
    const snap = await snapshotOf(master.sources(), master.config);
    for (const a of agents) await a.apply(snap);
  };
  m.setAgents(addrs.map((ip, i) => ({ id: `agent-${i}`, ip })));
  await master.sync();
  for (const body of [
    { name: 'hr', subnet: '10.10.0.0/16', subnet6: 'fd01:10::/64', prefix6: 80 },
    { name: 'it', subnet: '10.20.0.0/16', subnet6: 'fd01:20::/64', prefix6: 80 },
  ])
    t.equal((await api('POST', '/v1/networks', body)).status, 201);
  for (const net of ['hr', 'it']) t.equal((await api('POST', '/v1/networks/isolation', { network: net, default: 'deny' })).status, 201);
  t.equal((await api('POST', '/v1/networks/isolation', { from: 'hr', to: 'it', ports: [80], protocol: 'tcp' })).status, 201);
  await push();

  // agent 0 holds hr 10.10.0.0/24 and it 10.20.0.0/24; agent 1 the .1.0/24 slices.
  const hr0 = await createTask(t, nss[0]!, 'hr', '10.10.0.2', 25, '10.10.0.1');
  const it0 = await createTask(t, nss[0]!, 'it', '10.20.0.2', 25, '10.20.0.1');
  const hr1 = await createTask(t, nss[1]!, 'hr', '10.10.1.2', 25, '10.10.1.1');
  const it1 = await createTask(t, nss[1]!, 'it', '10.20.1.2', 25, '10.20.1.1');
  await tcpServer(t, it1, [80, 22]);
  await tcpServer(t, hr1, [80, 22]);
  await tcpServer(t, it0, [80]);

  const rows: [string, Netns, string, number, string][] = [
    ['hr reaches it:80 (other agent)', hr0, '10.20.1.2', 80, 'ok hi'],
    ['hr reaches it:80 (same agent)', hr0, '10.20.0.2', 80, 'ok hi'],
    ['hr is rejected on it:22', hr0, '10.20.1.2', 22, 'err EHOSTUNREACH'],
    ['it cannot reach hr (other agent)', it0, '10.10.1.2', 80, 'err EHOSTUNREACH'],
    ['it cannot reach hr (same agent)', it1, '10.10.1.2', 80, 'err EHOSTUNREACH'],
    ['hr reaches hr', hr0, '10.10.1.2', 22, 'ok hi'],
    ['it reaches it', it0, '10.20.1.2', 22, 'ok hi'],
  ];
  // The same over IPv6: each task also gets the .2 of its agent's v6 bridge half.
  const v6 = (agent: number, net: string) => master.allocator.agents.get(`agent-${agent}`)!.subnets[net]!.bridge6!;
  const host6 = (cidr: string, n: bigint) => hostAddr(parseCidr(cidr)!, n).split('/')[0]!;
  for (const [task, agent, net] of [[hr0, 0, 'hr'], [it0, 0, 'it'], [hr1, 1, 'hr'], [it1, 1, 'it']] as const) {
    const b6 = v6(agent, net);
    await addTask6(task, host6(b6, 2n), Number(b6.split('/')[1]), host6(b6, 1n));
  }
  const [it1v6, hr1v6, it0v6] = [host6(v6(1, 'it'), 2n), host6(v6(1, 'hr'), 2n), host6(v6(0, 'it'), 2n)];
  rows.push(
    ['v6: hr reaches it:80 (other agent)', hr0, it1v6, 80, 'ok hi'],
    ['v6: hr reaches it:80 (same agent)', hr0, it0v6, 80, 'ok hi'],
    ['v6: hr is rejected on it:22', hr0, it1v6, 22, 'err EACCES'], // ICMPv6 admin-prohibited
    ['v6: it cannot reach hr (other agent)', it0, hr1v6, 80, 'err EACCES'],
    ['v6: hr reaches hr', hr0, hr1v6, 22, 'ok hi'],
  );
  for (const [what, from, ip, port, want] of rows) {
    const t0 = performance.now();
    const got = await tcpConnect(from, ip, port);
    t.equal(got, want, `${what} (${got})`);
    if (want.startsWith('err')) t.ok(performance.now() - t0 < 2000, `${what}: fails fast`);
  }

  const local = await agents[0]!.counters();
  const hits = (key: string) => local.find((c) => c.key === key)?.packets ?? 0;
  t.ok(hits('hr>it:tcp:80') > 0, 'rule counter increased on the agent');
  t.ok(hits('default:hr') > 0, 'hr default-deny counter increased');
  t.ok(hits('default:it') > 0, 'it default-deny counter increased');
  const view = (await api('GET', '/v1/networks/isolation')).body as { rules: { key: string; packets: number }[]; policies: { network: string; packets: number }[]; counters_from: string[] };
  t.same(view.counters_from, ['agent-0', 'agent-1'], 'counters summed from both agents');
  t.ok(view.rules.find((r) => r.key === 'hr>it:tcp:80')!.packets >= hits('hr>it:tcp:80'), 'master shows the rule counter');
  t.ok(view.policies.find((p) => p.network === 'it')!.packets > 0, 'master shows default counters');

  // An allow rule from an IPv6 prefix (agent 0's `it` v6 slice) to hr, tcp port 22 only: real v6
  // traffic from that prefix passes on 22, the same prefix on another port, another prefix of `it`,
  // and IPv4 from the same task stay denied, and the rule and the default are counted.
  const it0slice6 = master.allocator.agents.get('agent-0')!.subnets.it!.subnet6!;
  const key6 = `it/${it0slice6}>hr:tcp:22`;
  t.equal((await api('POST', '/v1/networks/isolation', { from: `it/${it0slice6}`, to: 'hr', ports: [22], protocol: 'tcp' })).status, 201, `allow ${key6}`);
  await push();
  const deny6Before = hits('default:it');
  const rows6: [string, Netns, string, number, string][] = [
    ['v6 prefix rule: it (agent 0 slice) reaches hr:22 over v6', it0, hr1v6, 22, 'ok hi'],
    ['v6 prefix rule: it (agent 0 slice) is still denied hr:80 over v6', it0, hr1v6, 80, 'err EACCES'],
    ['v6 prefix rule: it (agent 1 slice, outside the prefix) is denied hr:22 over v6', it1, hr1v6, 22, 'err EACCES'],
    ['v6 prefix rule: the same task over IPv4 is denied hr:22', it0, '10.10.1.2', 22, 'err EHOSTUNREACH'],
  ];
  for (const [what, from, ip, port, want] of rows6) t.equal(await tcpConnect(from, ip, port), want, what);
  const after6 = await agents[0]!.counters();
  t.ok((after6.find((c) => c.key === key6)?.packets ?? 0) > 0, `${key6} counted on agent 0`);
  t.ok((after6.find((c) => c.key === 'default:it')?.packets ?? 0) > deny6Before, 'denied v6 traffic counted under default:it');
  t.equal((await api('DELETE', `/v1/networks/isolation?rule=${encodeURIComponent(key6)}`)).status, 200);
  await push();
  t.equal(await tcpConnect(it0, hr1v6, 22), 'err EACCES', 'removing the v6 prefix rule restores the default (deny)');

  // Counters survive a rule change (the table is rewritten) and the agent component's restart.
  const counted = ['hr>it:tcp:80', 'default:hr', 'default:it'];
  const snapshotHits = async () => new Map((await agents[0]!.counters()).filter((c) => counted.includes(c.key)).map((c) => [c.key, c.packets]));
  const held = await snapshotHits();
  t.equal((await api('POST', '/v1/networks/isolation', { from: 'it', to: 'hr', ports: [5353], protocol: 'udp' })).status, 201);
  await push();
  const afterChange = await snapshotHits();
  for (const k of counted) t.ok(afterChange.get(k)! >= held.get(k)!, `${k}: ${afterChange.get(k)} packets after a rule change (had ${held.get(k)})`);
  t.ok((await agents[0]!.counters()).some((c) => c.key === 'it>hr:udp:5353'), 'the new rule is counted too');
  await agents[0]!.stop();
  const again = new OverlayAgentComponent({ agentId: 'agent-0', registry: createRegistry(), netns: nss[0]!.name });
  await again.start();
  agents[0] = again;
  await push();
  const afterRestart = await snapshotHits();
  for (const k of counted) t.ok(afterRestart.get(k)! >= held.get(k)!, `${k}: ${afterRestart.get(k)} packets after the agent component restarted (had ${held.get(k)})`);
  t.equal((await api('DELETE', `/v1/networks/isolation?rule=${encodeURIComponent('it>hr:udp:5353')}`)).status, 200);

  t.equal((await api('DELETE', `/v1/networks/isolation?rule=${encodeURIComponent('hr>it:tcp:80')}`)).status, 200);
  await push();
  t.equal(await tcpConnect(hr0, '10.20.1.2', 80), 'err EHOSTUNREACH', 'removing the rule restores the default (deny)');
  t.equal((await api('DELETE', '/v1/networks/isolation?network=hr')).status, 200);
  t.equal((await api('DELETE', '/v1/networks/isolation?network=it')).status, 200);
  await push();
  t.equal(await tcpConnect(it0, '10.10.1.2', 80), 'ok hi', 'default allow again');
});
