import t from 'tap';
import { satisfies } from '../marathon/constraints.js';
import type { Constraint } from '../marathon/app.js';
import type { AgentRecord } from '../model.js';

// Address plan: s1,s2 in rack r1; s3 in rack r2; s4 has no rack attribute.
function agent(id: string, rack?: string): AgentRecord {
  return { agent_id: id, hostname: `${id}.example`, ip: '127.0.0.1', port: 5051, resources: { cpus: 4, mem: 4096, disk: 0, ports: [] }, attributes: rack ? { rack } : {}, active: true, registered_time: 0 };
}
const agents = new Map(['s1', 's2', 's3'].map((id, i) => [id, agent(id, i < 2 ? 'r1' : 'r2')]));
agents.set('s4', agent('s4'));
const on = (...ids: string[]) => ids.map((agent_id) => ({ agent_id }));

const rows: [string, Constraint, string, { agent_id: string }[], boolean][] = [
  ['UNIQUE hostname: free host ok', { field: 'hostname', operator: 'UNIQUE' }, 's2', on('s1'), true],
  ['UNIQUE hostname: taken host refused', { field: 'hostname', operator: 'UNIQUE' }, 's1', on('s1'), false],
  ['UNIQUE rack: same rack refused', { field: 'rack', operator: 'UNIQUE' }, 's2', on('s1'), false],
  ['UNIQUE rack: agent without rack refused', { field: 'rack', operator: 'UNIQUE' }, 's4', on(), false],
  ['CLUSTER value: match', { field: 'rack', operator: 'CLUSTER', value: 'r2' }, 's3', on(), true],
  ['CLUSTER value: mismatch', { field: 'rack', operator: 'CLUSTER', value: 'r2' }, 's1', on(), false],
  ['CLUSTER no value: follows first task', { field: 'rack', operator: 'CLUSTER' }, 's2', on('s1'), true],
  ['CLUSTER no value: other rack refused', { field: 'rack', operator: 'CLUSTER' }, 's3', on('s1'), false],
  ['GROUP_BY: emptier group ok', { field: 'rack', operator: 'GROUP_BY' }, 's3', on('s1'), true],
  ['GROUP_BY: fuller group refused', { field: 'rack', operator: 'GROUP_BY' }, 's2', on('s1'), false],
  ['GROUP_BY: balanced groups, any ok', { field: 'rack', operator: 'GROUP_BY' }, 's2', on('s1', 's3'), true],
  ['LIKE: matches', { field: 'hostname', operator: 'LIKE', value: 's[12]\\.example' }, 's2', on(), true],
  ['LIKE: whole value must match', { field: 'hostname', operator: 'LIKE', value: 's1' }, 's1', on(), false],
  ['UNLIKE: match refused', { field: 'rack', operator: 'UNLIKE', value: 'r1' }, 's1', on(), false],
  ['UNLIKE: other ok', { field: 'rack', operator: 'UNLIKE', value: 'r1' }, 's3', on(), true],
  ['MAX_PER: below max ok', { field: 'rack', operator: 'MAX_PER', value: '2' }, 's2', on('s1'), true],
  ['MAX_PER: at max refused', { field: 'rack', operator: 'MAX_PER', value: '2' }, 's2', on('s1', 's2'), false],
];

for (const [what, c, target, placed, want] of rows) {
  t.equal(satisfies(c, agents.get(target)!, placed, agents), want, what);
}
