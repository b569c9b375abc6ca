/** The masters part with the ZooKeeper election's contenders (MasterHandle.election). */
import t from 'tap';
import type { ElectedMaster, MasterElection } from '../../contracts/index.js';
import { masterEntries, mastersSource } from '../sources/masters.js';

/** An election view whose contenders the test sets; set() notifies like the real one. */
function election(list: ElectedMaster[]): MasterElection & { set(l: ElectedMaster[]): void; listeners: number } {
  const fns = new Set<() => void>();
  return {
    masters: () => list,
    onChange(fn) {
      fns.add(fn);
      return () => void fns.delete(fn);
    },
    set(l) {
      list = l;
      fns.forEach((fn) => fn());
    },
    get listeners() {
      return fns.size;
    },
  };
}

const three: ElectedMaster[] = [
  { id: 'info-a', ip: '10.0.0.10', port: 5050, leader: true },
  { id: 'info-c', ip: '10.0.0.12', port: 5050, leader: false },
  { id: 'info-b', ip: '10.0.0.11', port: 5050, leader: false },
];
const leaderState = { leader: 'master@10.0.0.10:5050' };
const row = (m: { id: string; ip: string; port: number; leader: boolean }) => [m.id, m.ip, m.port, m.leader];

t.test('every contender, the elected one flagged, sorted by IP, with this master\'s ports', async (t) => {
  const got = masterEntries({ masterId: 'M1', ip: '10.0.0.10', port: 5050, state: () => leaderState, election: election(three) }, { controlPort: 5060, dnsPort: 61053 });
  t.same(got.map(row), [
    ['info-a', '10.0.0.10', 5050, true],
    ['info-b', '10.0.0.11', 5050, false],
    ['info-c', '10.0.0.12', 5050, false],
  ]);
  t.ok(got.every((m) => m.key === m.ip && m.control_port === 5060 && m.dns_port === 61053), 'keyed by IP, the configured control and DNS ports');
});

t.test('configured peers merge in; one entry per IP (the election\'s wins)', async (t) => {
  const got = masterEntries({ masterId: 'M1', ip: '10.0.0.10', port: 5050, state: () => leaderState, election: election(three) }, { peers: ['10.0.0.12:5051', '10.0.0.13', '[10.0.0.11]:5050'] });
  t.same(got.map(row), [
    ['info-a', '10.0.0.10', 5050, true],
    ['info-b', '10.0.0.11', 5050, false],
    ['info-c', '10.0.0.12', 5050, false],
    ['master@10.0.0.13', '10.0.0.13', 5050, false],
  ]);
  t.equal(new Set(got.map((m) => m.key)).size, got.length, 'no duplicate keys');
});

t.test('the election names the leader; a master out of the election is not listed', async (t) => {
  // 10.0.0.10 restarts (its znode is gone); 10.0.0.12 leads now and serves the control plane.
  const e = election([{ id: 'info-c', ip: '10.0.0.12', port: 5050, leader: true }, { id: 'info-b', ip: '10.0.0.11', port: 5050, leader: false }]);
  const got = masterEntries({ masterId: 'M3', ip: '10.0.0.12', port: 5050, state: () => ({ leader: 'master@10.0.0.12:5050' }), election: e });
  t.same(got.map(row), [['info-b', '10.0.0.11', 5050, false], ['info-c', '10.0.0.12', 5050, true]]);
  e.set([{ id: 'info-c', ip: '10.0.0.12', port: 5050, leader: true }, { id: 'info-b', ip: '10.0.0.11', port: 5050, leader: false }, { id: 'info-a2', ip: '10.0.0.10', port: 5050, leader: false }]);
  t.same(masterEntries({ masterId: 'M3', ip: '10.0.0.12', port: 5050, state: () => ({}), election: e }).map((m) => [m.ip, m.leader]), [['10.0.0.10', false], ['10.0.0.11', false], ['10.0.0.12', true]], 'listed again once it rejoins; the election\'s leader without a state leader field');
});

t.test('an empty election (session expired) lists what a master without ZooKeeper lists', async (t) => {
  const handle = { masterId: 'M1', ip: '10.0.0.11', port: 5050, state: () => leaderState };
  t.same(masterEntries({ ...handle, election: election([]) }, { peers: ['10.0.0.12'] }), masterEntries(handle, { peers: ['10.0.0.12'] }));
  t.same(masterEntries({ ...handle, state: () => ({}), election: election([]) }).map((m) => [m.id, m.leader]), [['M1', true]], 'a lone master leads');
});

t.test('the source notifies on a state change and on an election change, and unsubscribes from both', async (t) => {
  const e = election(three);
  const stateFns = new Set<() => void>();
  const src = mastersSource({ masterId: 'M1', ip: '10.0.0.10', port: 5050, state: () => leaderState, election: e, onChange: (fn) => (stateFns.add(fn), () => void stateFns.delete(fn)) });
  let calls = 0;
  const off = src.onChange(() => calls++);
  e.set(three.slice(0, 2));
  t.equal(calls, 1, 'an election change');
  stateFns.forEach((fn) => fn());
  t.equal(calls, 2, 'a state change');
  t.equal((await src.entries()).length, 2, 'entries follow the election');
  off();
  t.equal(e.listeners + stateFns.size, 0, 'both listeners removed');
});
