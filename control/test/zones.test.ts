/** The zones and masters parts derived from Mesos state JSON. */
import t from 'tap';
import { masterEntries } from '../sources/masters.js';
import { zoneRecords } from '../sources/zones.js';
import { vip } from './helpers.js';

// Address plan: agents 10.0.0.1/.2, container IPs 9.0.1.x and fd01:b::1:x, master 10.0.0.10.
const state = {
  leader: 'master@10.0.0.10:5050',
  slaves: [
    { id: 'S1', pid: 'slave(1)@10.0.0.1:5051', hostname: 'a1' },
    { id: 'S2', pid: 'slave(1)@10.0.0.2:5051', hostname: 'a2' },
  ],
  frameworks: [
    {
      id: 'F1',
      name: 'marathon',
      tasks: [
        { id: 'web.1', name: 'web.group', slave_id: 'S1', state: 'TASK_RUNNING', statuses: [{ state: 'TASK_RUNNING', timestamp: 1 }] },
        {
          id: 'db.1',
          name: 'db',
          slave_id: 'S2',
          state: 'TASK_RUNNING',
          statuses: [
            { state: 'TASK_RUNNING', timestamp: 1, container_status: { network_infos: [{ ip_addresses: [{ ip_address: '9.0.1.9' }] }] } },
            { state: 'TASK_RUNNING', timestamp: 2, container_status: { network_infos: [{ ip_addresses: [{ ip_address: '9.0.1.2' }, { ip_address: 'fd01:b::1:2' }] }] } },
          ],
        },
        { id: 'old.1', name: 'old', slave_id: 'S1', state: 'TASK_KILLED', statuses: [] },
        { id: 'lost.1', name: 'Lost_App', slave_id: 'S9', state: 'TASK_RUNNING', statuses: [] },
        { id: 'bad', name: 42, state: 'TASK_RUNNING' },
        'garbage',
      ],
    },
    { id: 'F2', name: 'My.Framework', tasks: [{ id: 'x.1', name: 'x', slave_id: 'S2', state: 'TASK_RUNNING', discovery: { name: 'Disco_Name' } }] },
  ],
};
const self = { masterId: 'M1', ip: '10.0.0.10', port: 5050, state: () => state };

t.test('zone records', async (t) => {
  const records = zoneRecords(state, [vip('web', '11.0.0.1', [['10.0.0.1', 31000]])], masterEntries(self));
  const got = records.map((r) => `${r.name} ${r.type} ${r.data}`);
  const want = [
    'web-group.marathon.agentip.dcos.thisdcos.directory A 10.0.0.1',
    'web-group.marathon.autoip.dcos.thisdcos.directory A 10.0.0.1',
    'db.marathon.agentip.dcos.thisdcos.directory A 10.0.0.2',
    'db.marathon.containerip.dcos.thisdcos.directory A 9.0.1.2',
    'db.marathon.containerip.dcos.thisdcos.directory AAAA fd01:b::1:2',
    'db.marathon.autoip.dcos.thisdcos.directory A 9.0.1.2',
    'db.marathon.autoip.dcos.thisdcos.directory AAAA fd01:b::1:2',
    'disco-name.my-framework.agentip.dcos.thisdcos.directory A 10.0.0.2',
    'disco-name.my-framework.autoip.dcos.thisdcos.directory A 10.0.0.2',
    'web.marathon.l4lb.thisdcos.directory A 11.0.0.1',
    'master.dcos.thisdcos.directory A 10.0.0.10',
    'leader.dcos.thisdcos.directory A 10.0.0.10',
  ];
  t.same(new Set(got), new Set(want), 'every expected record, nothing else');
  t.equal(got.length, want.length, 'no duplicates');
  t.notOk(got.some((g) => g.includes('9.0.1.9')), 'only the latest running status counts');
  t.notOk(got.some((g) => g.startsWith('old.')), 'no killed tasks');
  t.ok(records.every((r) => r.key === `${r.name}/${r.type}/${r.data}`), 'keys follow the contract');
  t.same(zoneRecords('not state', [], []), [], 'garbage state gives no records and no error');
});

t.test('master entries', async (t) => {
  t.same(masterEntries(self).map((m) => [m.ip, m.leader, m.control_port, m.dns_port]), [['10.0.0.10', true, 5060, 61053]]);
  const standby = { ...self, ip: '10.0.0.11' };
  t.same(
    masterEntries(standby, { peers: ['10.0.0.12:5050'] }).map((m) => [m.ip, m.leader]),
    [['10.0.0.10', true], ['10.0.0.11', false], ['10.0.0.12', false]],
    'a standby lists itself, the leader and its peers',
  );
});
