/**
 * Issue #27 part 3: plain `sextant up` (no --netns) says in its summary which services its agents
 * run (only the control-plane client: they share this host's kernel) and how to get the full data
 * plane, suggests no VIP or namespace command (none can work in this mode), and prints "ready"
 * only once every agent applied the control plane's current version.
 */
import t from 'tap';
import { requestJson } from '../../common/http.js';
import { spawnUp, upArgs, upPlan, upWorkDir } from './up-lib.js';

t.setTimeout(180_000);

t.test('plain up: the summary names the agents\' services and the way to the full data plane', async (t) => {
  const plan = await upPlan();
  const dir = upWorkDir(t, 'summ');
  const up = spawnUp(t, upArgs(plan, dir, 2), dir);
  await up.waitFor(/sextant up: (ready|not ready)/, 120_000);
  const out = up.output();
  t.match(out, /sextant up: ready/, 'ready');
  t.match(out, /^ {2}agents +run control$/m, 'the agents run only the control-plane client');
  t.match(out, /no VIPs, overlay networks or DNS dispatcher; `sextant up --netns`, as root, runs the full data plane/, 'and how to get the rest');
  t.notMatch(out, /^ {2}(vip|names|netns) /m, 'no VIP, name or namespace command that cannot work here');
  t.match(out, /^ {2}example +curl http:\/\//m, 'the example app is reached directly');

  const s = (await requestJson(`http://${plan.ipBase}.1:${plan.masterPort}/v1/control/agents`)).body as { version: number; agents: { agent_id: string; applied: number }[] };
  const ids = [...out.matchAll(/^agent \d+: pid \d+ \S+ id (\S+)/gm)].map((m) => m[1]!);
  t.equal(ids.length, 2, 'two agents printed');
  for (const id of ids) t.equal(s.agents.find((a) => a.agent_id === id)?.applied, s.version, `agent ${id} applied the current version`);
});
