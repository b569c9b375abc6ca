/**
 * Exhaustion is an explicit error on the agent and on the task (issue 7), through real processes:
 * `sextant up --netns --agents 3`, then a network `tiny` (10.99.0.0/28, /29 per agent: 2 slices)
 * so one agent gets none. A task on `tiny` placed on that agent ends TASK_FAILED with a message
 * naming the exhaustion in /master/state; that agent's GET /v1/overlay and its log name it too.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { requestJson } from '../../common/http.js';
import { eventually, requireNetns, requireTools } from '../lib/index.js';
import { startNetnsUp } from './netns-up.js';

t.setTimeout(120_000);
requireNetns();
requireTools('ip', 'nsenter', 'curl');

const REASON = /network tiny: no free \/29 of 10\.99\.0\.0\/28 for agent (\S+) \(overlay exhausted\)/;

t.test('a task on a network the agent has no slice of fails saying so', async (t) => {
  const c = await startNetnsUp(t, 3);
  const res = await requestJson(`${c.master}/v1/networks`, { body: { name: 'tiny', subnet: '10.99.0.0/28', prefix: 29 } });
  t.ok(res.status >= 200 && res.status < 300, `network tiny created (${res.status} ${JSON.stringify(res.body).slice(0, 200)})`);

  // The master's allocator: two agents have a slice, one was refused (recorded per agent).
  const agents = await eventually(async () => {
    const r = (await requestJson(`${c.master}/v1/overlay/agents`)).body as any;
    const list = (r.agents ?? r) as any[];
    return list.length === 3 && list.filter((a) => a.subnets?.tiny).length === 2 ? list : undefined;
  }, 20_000, 200, 'three agents allocated, two with a slice of tiny');
  const poor = agents.find((a) => !a.subnets?.tiny)!;
  const idx = c.agents.findIndex((a) => a.id === poor.agent_id);
  t.ok(idx >= 0, `agent ${poor.agent_id} has no slice of tiny`);

  // That agent says why: GET /v1/overlay (agent API, inside its namespace) and its log.
  const port = c.up.output().match(new RegExp(`http://${c.agents[idx]!.ip.replace(/\./g, '\\.')}:(\\d+)`))![1];
  const view = await eventually(async () => {
    const body = await c.inAgent(idx + 1, ['curl', '-sS', '-m', '5', `http://${c.agents[idx]!.ip}:${port}/v1/overlay`]);
    return REASON.test(body) ? body : undefined;
  }, 15_000, 250, 'agent GET /v1/overlay naming the exhaustion');
  t.match(view, `for agent ${poor.agent_id} (overlay exhausted)`, 'agent API names the exhaustion');
  const agentLog = () => readFileSync(join(c.workDir, 'logs', `agent-${idx + 1}.log`), 'utf8');
  t.match(agentLog(), /overlay_network_unallocated[^\n]*no free \/29 of 10\.99\.0\.0\/28[^\n]*overlay exhausted/, 'agent log: overlay_network_unallocated with the reason');

  // A task on tiny placed on that agent.
  const st = (await requestJson(`${c.master}/master/state`)).body as any;
  const host = st.slaves.find((s: any) => s.id === poor.agent_id).hostname as string;
  const app = {
    id: '/tinyapp',
    cmd: 'sleep 300',
    instances: 1,
    cpus: 0.1,
    mem: 32,
    networks: [{ mode: 'container', name: 'tiny' }],
    constraints: [['hostname', 'LIKE', host.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')]],
  };
  const post = await requestJson(`${c.marathon}/v2/apps`, { body: app });
  t.equal(post.status, 201, `app accepted (${JSON.stringify(post.body).slice(0, 200)})`);
  const failed = await eventually(async () => {
    const s = (await requestJson(`${c.master}/master/state`)).body as any;
    const tasks = (s.frameworks ?? []).flatMap((f: any) => [...(f.tasks ?? []), ...(f.completed_tasks ?? [])]).filter((x: any) => x.name === 'tinyapp');
    return tasks.find((x: any) => x.state === 'TASK_FAILED');
  }, 30_000, 250, 'a TASK_FAILED task of /tinyapp');
  const msg = [...failed.statuses].reverse().find((s: any) => s.state === 'TASK_FAILED')?.message ?? failed.statuses.at(-1)?.message;
  t.equal(failed.slave_id, poor.agent_id, 'it ran on the agent without a slice');
  const ended = await eventually(() => agentLog().split('\n').find((l) => l.includes('"task_ended"') && l.includes('tinyapp')), 10_000, 200, 'agent task_ended log line');
  t.match(ended, /"state":"TASK_FAILED"/, 'agent log: the task failed');
  t.match(ended, /attaching to network 'tiny' failed: network tiny: no free \/29 of 10\.99\.0\.0\/28 for agent \S+ \(overlay exhausted\)/, 'agent log: the failure names the exhaustion');
  // The status update carries the message; /master/state shows it once master/state-json.ts emits
  // `message` in statuses[] (one-line change requested from the master owner).
  t.match(String(msg), REASON, `TASK_FAILED in /master/state names the exhaustion: ${msg}`);
  await requestJson(`${c.marathon}/v2/apps/tinyapp`, { method: 'DELETE' });
});
