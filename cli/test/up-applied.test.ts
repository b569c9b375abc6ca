/** `up` says "ready" only when every agent applied the current version (cli/up-applied.ts), against a real HTTP server. */
import t from 'tap';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { judgeApplied, waitApplied, type ControlAgents } from '../up-applied.js';

const row = (agent_id: string, applied: number, extra: Partial<ControlAgents['agents'][number]> = {}) => ({ agent_id, connected: true, applied, failed: null, error: null, ...extra });
const agents = [
  { n: 1, id: 'a1' },
  { n: 2, id: 'a2' },
];

t.test('judgeApplied names each agent that did not apply, and why', async (t) => {
  t.same(judgeApplied({ version: 7, agents: [row('a1', 7), row('a2', 7)] }, agents), { kind: 'applied', version: 7 });
  const r = judgeApplied({ version: 7, agents: [row('a1', 7), row('a2', 5, { connected: false })] }, agents);
  t.same(r, { kind: 'behind', version: 7, problems: ['agent 2 (a2) applied version 5 of 7 and is not connected'], refused: false });
  const refused = judgeApplied({ version: 7, agents: [row('a1', 6, { failed: 7, error: 'cannot listen for tcp/11.0.0.1:80' })] }, agents);
  t.same(refused, { kind: 'behind', version: 7, problems: ['agent 1 (a1) refused version 7: cannot listen for tcp/11.0.0.1:80', 'agent 2 (a2) has no control-plane stream'], refused: true });
  const old = judgeApplied({ version: 9, agents: [row('a1', 9, { failed: 7, error: 'x' }), row('a2', 9)] }, agents);
  t.equal(old.kind, 'applied', 'a refusal of an older version does not count once the current one is applied');
});

t.test('waitApplied polls the master until applied, stops at a refusal, and knows a master without control plane', async (t) => {
  let body: ControlAgents | undefined = { version: 3, agents: [row('a1', 2), row('a2', 3)] };
  let asked = 0;
  const server = http.createServer((_q, res) => {
    asked++;
    if (!body) return void res.writeHead(404).end();
    if (asked === 3) body = { version: 3, agents: [row('a1', 3), row('a2', 3)] };
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => server.close());
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  t.same(await waitApplied(url, agents, 10_000, 10), { kind: 'applied', version: 3 });
  t.equal(asked, 3, 'it polled until both agents applied');

  body = { version: 4, agents: [row('a1', 3, { failed: 4, error: 'boom' }), row('a2', 4)] };
  asked = 10;
  const t0 = Date.now();
  const r = await waitApplied(url, agents, 10_000, 10);
  t.match(r, { kind: 'behind', refused: true, problems: ['agent 1 (a1) refused version 4: boom'] });
  t.ok(Date.now() - t0 < 5000, 'a refusal ends the wait at once');

  body = { version: 4, agents: [row('a1', 3), row('a2', 4)] };
  const late = await waitApplied(url, agents, 300, 20);
  t.match(late, { kind: 'behind', problems: ['agent 1 (a1) applied version 3 of 4'] }, 'behind after the timeout');

  body = undefined;
  t.same(await waitApplied(url, agents, 1000, 10), { kind: 'no-control' });
});
