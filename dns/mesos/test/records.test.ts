// Every assertion of upstream mesos-dns's records tests (generator_test.go, labels_test.go, state_test.go)
// as table rows, on our own fixture state (test/fixtures/mesos-state.json).
import t, { type Test } from 'tap';
import { generateRecords, canonicalLabel, type GeneratorConfig } from '../generator.js';
import { parseState, parsePid, parsePorts, taskIPs, type Task } from '../state.js';
import { rfc952, rfc1123, domainFrag } from '../labels.js';
import { hashString } from '../hash.js';
import { RecordSet } from '../recordset.js';
import { fakeState } from './fixture.js';

const base: GeneratorConfig = {
  domain: 'mesos',
  soaMname: 'mesos-dns.mesos.',
  listener: '127.0.0.1',
  masters: ['144.76.157.37:5050'],
  ipSources: [],
  enforceRFC952: true,
};

function gen(ipSources: string[]): RecordSet {
  const raw = fakeState();
  raw.leader = 'master@144.76.157.37:5050';
  return generateRecords(parseState(raw), { ...base, ipSources }, { hosts: new Map() });
}

type Row = [name: string, kind: 'A' | 'AAAA' | 'SRV', want: string[] | null];

function check(t: Test, rs: RecordSet, rows: Row[]): void {
  for (const [name, kind, want] of rows) {
    const got = [...(rs.map(kind).get(name.replace(/\.$/, '')) ?? [])].map((v) => (kind === 'SRV' ? v.replace(/:(\d+)$/, '.:$1') : v));
    if (want === null) t.same(got, [], `${name} ${kind} absent`);
    else t.same(got.sort(), [...want].sort(), `${name} ${kind}`);
  }
}

t.test('TestInsertState rg (netinfo, docker, mesos, host)', async (t) => {
  check(t, gen(['netinfo', 'docker', 'mesos', 'host']), [
    ['big-dog.marathon.mesos.', 'A', ['10.3.0.1']],
    ['liquor-store.marathon.mesos.', 'A', ['10.3.0.1', '10.3.0.2']],
    ['liquor-store.marathon.slave.mesos.', 'A', ['1.2.3.11', '1.2.3.12']],
    ['car-store.marathon.slave.mesos.', 'A', ['1.2.3.11']],
    ['nginx.marathon.mesos.', 'A', ['10.3.0.3']],
    ['poseidon.marathon.mesos.', 'A', null],
    ['poseidon.marathon.slave.mesos.', 'A', null],
    ['master.mesos.', 'A', ['144.76.157.37']],
    ['master0.mesos.', 'A', ['144.76.157.37']],
    ['leader.mesos.', 'A', ['144.76.157.37']],
    ['slave.mesos.', 'A', ['1.2.3.10', '1.2.3.11', '1.2.3.12']],
    ['some-box.chronoswithaspaceandmixe.mesos.', 'A', ['1.2.3.11']],
    ['marathon.mesos.', 'A', ['1.2.3.11']],
    ['toy-store.ipv6-framework.mesos.', 'AAAA', ['fd01:b::1:8000:2']],
    ['toy-store.ipv6-framework.slave.mesos.', 'AAAA', ['2001:db8::1']],
    ['ipv6-framework.mesos.', 'AAAA', ['2001:db8::1']],
    ['slave.mesos.', 'AAAA', ['2001:db8::1']],
    ['_big-dog._tcp.marathon.mesos.', 'SRV', ['big-dog-4dfjd-0.marathon.mesos.:80', 'big-dog-4dfjd-0.marathon.mesos.:443']],
    ['_poseidon._tcp.marathon.mesos.', 'SRV', null],
    ['_leader._tcp.mesos.', 'SRV', ['leader.mesos.:5050']],
    [
      '_liquor-store._tcp.marathon.mesos.',
      'SRV',
      ['liquor-store-4dfjd-0.marathon.mesos.:80', 'liquor-store-4dfjd-0.marathon.mesos.:443', 'liquor-store-zasmd-1.marathon.mesos.:80', 'liquor-store-zasmd-1.marathon.mesos.:443'],
    ],
    ['_liquor-store._udp.marathon.mesos.', 'SRV', null],
    ['_liquor-store.marathon.mesos.', 'SRV', null],
    ['_https._liquor-store._tcp.marathon.mesos.', 'SRV', ['liquor-store-4dfjd-0.marathon.mesos.:443', 'liquor-store-zasmd-1.marathon.mesos.:443']],
    ['_http._liquor-store._tcp.marathon.mesos.', 'SRV', ['liquor-store-4dfjd-0.marathon.mesos.:80', 'liquor-store-zasmd-1.marathon.mesos.:80']],
    ['_car-store._tcp.marathon.mesos.', 'SRV', ['car-store-zinaz-0.marathon.slave.mesos.:31364', 'car-store-zinaz-0.marathon.slave.mesos.:31365']],
    ['_car-store._udp.marathon.mesos.', 'SRV', ['car-store-zinaz-0.marathon.slave.mesos.:31364', 'car-store-zinaz-0.marathon.slave.mesos.:31365']],
    ['_slave._tcp.mesos.', 'SRV', ['slave.mesos.:5051']],
    ['_framework._tcp.marathon.mesos.', 'SRV', ['marathon.mesos.:25501']],
  ]);
});

t.test('TestInsertState other IPSources', async (t) => {
  const common: Row[] = [
    ['liquor-store.marathon.slave.mesos.', 'A', ['1.2.3.11', '1.2.3.12']],
    ['car-store.marathon.slave.mesos.', 'A', ['1.2.3.11']],
    ['toy-store.ipv6-framework.slave.mesos.', 'AAAA', ['2001:db8::1']],
  ];
  const table: [string, string[], Row[]][] = [
    ['host', ['host'], [['liquor-store.marathon.mesos.', 'A', ['1.2.3.11', '1.2.3.12']], ['nginx.marathon.mesos.', 'A', ['1.2.3.11']], ['toy-store.ipv6-framework.mesos.', 'AAAA', ['2001:db8::1']]]],
    ['mesos', ['mesos', 'host'], [['liquor-store.marathon.mesos.', 'A', ['1.2.3.11', '1.2.3.12']], ['nginx.marathon.mesos.', 'A', ['10.3.0.3']], ['toy-store.ipv6-framework.mesos.', 'AAAA', ['2001:db8::1']]]],
    ['docker', ['docker', 'host'], [['liquor-store.marathon.mesos.', 'A', ['10.3.0.1', '10.3.0.2']], ['nginx.marathon.mesos.', 'A', ['1.2.3.11']], ['toy-store.ipv6-framework.mesos.', 'AAAA', ['2001:db8::1']]]],
  ];
  for (const [label, srcs, rows] of table) t.test(label, async (t) => check(t, gen(srcs), [...common, ...rows]));
  t.test('netinfo', async (t) =>
    check(t, gen(['netinfo']), [
      ['toy-store.ipv6-framework.mesos.', 'A', ['12.0.1.3', '12.0.1.2']],
      ['toy-store.ipv6-framework.mesos.', 'AAAA', ['fd01:b::1:8000:2']],
      ['toy-store.ipv6-framework.slave.mesos.', 'AAAA', ['2001:db8::1']],
    ]),
  );
});

t.test('TestMasterRecord', async (t) => {
  const empty = { leader: 'x', frameworks: [], slaves: [], warnings: [] };
  const L = '_leader._tcp.foo.com';
  const U = '_leader._udp.foo.com';
  const srv = (p: number) => ({ [L]: [`leader.foo.com:${p}`], [U]: [`leader.foo.com:${p}`] });
  type Want = Record<string, string[]>;
  const rows: [string[], string, Want][] = [
    [[], '', {}],
    [[], '@', {}],
    [[], '1@', {}],
    [[], '@2', {}],
    [[], '3@4', {}],
    [[], '5@0.0.0.6:7', { 'A leader.foo.com': ['0.0.0.6'], 'A master.foo.com': ['0.0.0.6'], 'A master0.foo.com': ['0.0.0.6'], ...srv(7) }],
    [[], '5@[2001:db8::1]:7', { 'AAAA leader.foo.com': ['2001:db8::1'], 'AAAA master.foo.com': ['2001:db8::1'], 'AAAA master0.foo.com': ['2001:db8::1'], ...srv(7) }],
    [['0.0.0.6:7'], '5@0.0.0.6:7', { 'A leader.foo.com': ['0.0.0.6'], 'A master.foo.com': ['0.0.0.6'], 'A master0.foo.com': ['0.0.0.6'], ...srv(7) }],
    [['0.0.0.8:9'], '5@0.0.0.6:7', { 'A leader.foo.com': ['0.0.0.6'], 'A master.foo.com': ['0.0.0.6', '0.0.0.8'], 'A master0.foo.com': ['0.0.0.8'], 'A master1.foo.com': ['0.0.0.6'], ...srv(7) }],
    [['0.0.0.8:9', '0.0.0.8:9'], '5@0.0.0.6:7', { 'A leader.foo.com': ['0.0.0.6'], 'A master.foo.com': ['0.0.0.6', '0.0.0.8'], 'A master0.foo.com': ['0.0.0.8'], 'A master1.foo.com': ['0.0.0.6'], ...srv(7) }],
    [['0.0.0.8:9', '0.0.0.6:7'], '5@0.0.0.6:7', { 'A leader.foo.com': ['0.0.0.6'], 'A master.foo.com': ['0.0.0.6', '0.0.0.8'], 'A master0.foo.com': ['0.0.0.8'], 'A master1.foo.com': ['0.0.0.6'], ...srv(7) }],
    [['0.0.0.8:9', '0.0.0.6:7', '0.0.0.6:7'], '5@0.0.0.6:7', { 'A leader.foo.com': ['0.0.0.6'], 'A master.foo.com': ['0.0.0.6', '0.0.0.8'], 'A master0.foo.com': ['0.0.0.8'], 'A master1.foo.com': ['0.0.0.6'], ...srv(7) }],
    [['0.0.0.8:9', '0.0.0.6:7', '0.0.0.7:0'], '5@0.0.0.6:7', { 'A leader.foo.com': ['0.0.0.6'], 'A master.foo.com': ['0.0.0.6', '0.0.0.8', '0.0.0.7'], 'A master0.foo.com': ['0.0.0.8'], 'A master1.foo.com': ['0.0.0.6'], 'A master2.foo.com': ['0.0.0.7'], ...srv(7) }],
    [
      ['0.0.0.8:9', '0.0.0.6:7', '[2001:db8::1]:0'],
      '5@0.0.0.6:7',
      { 'A leader.foo.com': ['0.0.0.6'], 'A master.foo.com': ['0.0.0.6', '0.0.0.8'], 'AAAA master.foo.com': ['2001:db8::1'], 'A master0.foo.com': ['0.0.0.8'], 'A master1.foo.com': ['0.0.0.6'], 'AAAA master2.foo.com': ['2001:db8::1'], ...srv(7) },
    ],
  ];
  for (const [masters, leader, want] of rows) {
    const rs = generateRecords({ ...empty, leader }, { ...base, domain: 'foo.com', masters, listener: 'none', soaMname: 'ns1.foo.com' });
    const got: Want = {};
    for (const k of ['A', 'AAAA', 'SRV'] as const) for (const [n, s] of rs.map(k)) got[k === 'SRV' ? n : `${k} ${n}`] = [...s].sort();
    for (const k of Object.keys(want)) want[k]!.sort();
    t.same(got, want, `masters=${JSON.stringify(masters)} leader=${leader}`);
  }
});

t.test('SOAMname listener record, NTasks dedupe, hashString', async (t) => {
  const st = { leader: 'x@1.1.1.1:1', frameworks: [], slaves: [], warnings: [] };
  t.same([...generateRecords(st, { ...base, soaMname: 'jdef123.mesos.', listener: '4.5.6.7' }).a.get('jdef123.mesos')!], ['4.5.6.7']);
  t.same([...generateRecords(st, { ...base, soaMname: 'ack456.mesos.', listener: '2001:db8::1' }).aaaa.get('ack456.mesos')!], ['2001:db8::1']);
  const rs = new RecordSet();
  rs.add('A', 'blah.mesos', '10.0.0.1');
  rs.add('A', 'blah.mesos', '10.0.0.1');
  rs.add('A', 'blah.mesos', '10.0.0.2');
  t.equal(rs.a.get('blah.mesos')!.size, 2);
  t.equal(hashString('test'), 'iffe9');
  const seen = new Set<string>();
  for (let i = 0; i < 20000; i++) seen.add(hashString(`task-${i}`));
  t.ok(seen.size > 19900, 'few collisions');
});

t.test('labels (labels_test.go)', async (t) => {
  const shared: [string, string][] = [
    ['', ''], ['a', 'a'], ['-', ''], ['a---', 'a'], ['---a---', 'a'], ['---a---b', 'a---b'], ['a.b.c.d.e', 'a-b-c-d-e'],
    ['a.c.d_de.', 'a-c-d-de'], ['abc123', 'abc123'], ['-abc123', 'abc123'], ['abc123-', 'abc123'], ['abc-123', 'abc-123'],
    ['abc--123', 'abc--123'], ['r29f.dev.angrypigs', 'r29f-dev-angrypigs'], ['hello' + '-'.repeat(58) + 'f', 'hellof'],
  ];
  for (const [i, o] of shared) {
    t.equal(rfc952(i), o, `952 ${i}`);
    t.equal(rfc1123(i), o, `1123 ${i}`);
  }
  const r952: [string, string][] = [
    ['4abc123', 'abc123'], ['-4abc123', 'abc123'], ['fd%gsf---gs7-f$gs--d7fddg-123', 'fdgsf---gs7-fgs--d7fddg1'],
    ['89fdgsf---gs7-fgs--d7fddg-123', 'fdgsf---gs7-fgs--d7fddg1'], ['89fdgsf---gs7-fgs--d7fddg---123', 'fdgsf---gs7-fgs--d7fddg1'],
    ['89fdgsf---gs7-fgs--d7fddg-', 'fdgsf---gs7-fgs--d7fddg'], ['chronos with a space AND MIXED CASE-2.0.1', 'chronoswithaspaceandmixe'],
    ['chronos with a space AND----------MIXED--', 'chronoswithaspaceandmixe'], ['hello' + '-'.repeat(56) + 'f', 'hellof'],
  ];
  for (const [i, o] of r952) t.equal(rfc952(i), o, `952 ${i}`);
  const long = 'fdgsf---gs7-fgs--d7fddg1234567890123456789012345678901234567891';
  const r1123: [string, string][] = [
    ['4abc123', '4abc123'], ['-4abc123', '4abc123'], ['89fdgsf---gs7-fgs--d7fddg-123', '89fdgsf---gs7-fgs--d7fddg-123'],
    ['89fdgsf---gs7-fgs--d7fddg---123', '89fdgsf---gs7-fgs--d7fddg---123'], ['89fdgsf---gs7-fgs--d7fddg-', '89fdgsf---gs7-fgs--d7fddg'],
    ['fd%gsf---gs7-f$gs--d7fddg-123', 'fdgsf---gs7-fgs--d7fddg-123'],
    ['fd%gsf---gs7-f$gs--d7fddg123456789012345678901234567890123456789-123', long],
    ['$$fdgsf---gs7-fgs--d7fddg123456789012345678901234567890123456789-123', long],
    ['%%fdgsf---gs7-fgs--d7fddg123456789012345678901234567890123456789---123', long],
    ['##fdgsf---gs7-fgs--d7fddg123456789012345678901234567890123456789-', 'fdgsf---gs7-fgs--d7fddg123456789012345678901234567890123456789'],
    ['hello' + '-'.repeat(56) + 'f', 'hello' + '-'.repeat(56) + 'f'],
  ];
  for (const [i, o] of r1123) t.equal(rfc1123(i), o, `1123 ${i}`);
  t.equal(domainFrag('pod_123$abc.marathon-0.6.0-dev.mesos', rfc952), 'pod-123abc.marathon-0.dev.mesos');
  t.equal(domainFrag('pod_123$abc.marathon-0.6.0-dev.mesos', rfc1123), 'pod-123abc.marathon-0.6.0-dev.mesos');
  const frag: [string, string][] = [
    ['', ''], ['.', ''], ['..', ''], ['...', ''], ['abc.', 'abc'], ['.abc', 'abc'], ['a..c', 'a.c'], ['a..c.e', 'a.c.e'],
    ['space space.com', 'spacespace.com'], ['not$1234.com', 'not1234.com'], ['(@ host . com', 'host.com'],
    ['MiXeDcase.CoM', 'mixedcase.com'], ['blah-dash.com', 'blah-dash.com'],
  ];
  for (const [i, o] of frag) for (const spec of [rfc952, rfc1123]) t.equal(domainFrag(i, spec), o, `frag ${i}`);
  for (let i = 0; i < 2000; i++) {
    const s = Array.from({ length: 1 + (i % 80) }, () => String.fromCharCode(32 + Math.floor(Math.random() * 95))).join('');
    const a = rfc952(s);
    const b = rfc1123(s);
    if (!/^[0-9a-z-]*$/.test(a + b) || a.length > 24 || b.length > 63 || /^[-0-9]/.test(a) || b.startsWith('-')) t.fail(`property broken for ${s}`);
  }
});

t.test('state parsing (state_test.go)', async (t) => {
  t.same(parsePorts('[31111-31111, 31115-31117]'), ['31111', '31115', '31116', '31117']);
  t.same(parsePid(' slave(1)@127.0.0.1:5051 '), { id: 'slave(1)', host: '127.0.0.1', port: '5051' });
  t.same(parsePid('slave(1)@[2001:db8::1]:5051')?.host, '2001:db8::1');
  const st = (state: string, ts: number, extra: Record<string, unknown> = {}) => ({ state, timestamp: ts, labels: [], netinfo: [], ...extra });
  const task = (statuses: Task['statuses']): Task => ({ id: 'x', name: 'x', slaveId: 's', state: 'TASK_RUNNING', statuses, ports: [] });
  const docker = (ip: string) => ({ key: 'Docker.NetworkSettings.IPAddress', value: ip });
  const rows: [string, Task, string[], string[]][] = [
    ['no sources', task([st('TASK_RUNNING', 1, { netinfo: ['1.2.3.4'] })]), ['unknown'], []],
    ['netinfo latest running', task([st('TASK_RUNNING', 1, { netinfo: ['1.1.1.1'] }), st('TASK_RUNNING', 2, { netinfo: ['2.2.2.2', 'fd00::1'] }), st('TASK_KILLED', 3, { netinfo: ['3.3.3.3'] })]), ['netinfo'], ['2.2.2.2', 'fd00::1']],
    ['host first', task([st('TASK_RUNNING', 1, { netinfo: ['1.1.1.1'] })]), ['host', 'netinfo'], ['9.9.9.9']],
    ['netinfo first', task([st('TASK_RUNNING', 1, { netinfo: ['1.1.1.1'] })]), ['netinfo', 'host'], ['1.1.1.1']],
    ['docker ts 5 wins', task([st('TASK_RUNNING', 3, { labels: [docker('3.3.3.3')] }), st('TASK_RUNNING', 5, { labels: [docker('5.5.5.5')] }), st('TASK_RUNNING', 2, { labels: [docker('2.2.2.2')] }), st('TASK_RUNNING', 1, { netinfo: ['1.1.1.1'] }), st('TASK_RUNNING', 4, { netinfo: ['4.4.4.4'] })]), ['docker', 'netinfo'], ['5.5.5.5']],
    ['multiple docker labels', task([st('TASK_RUNNING', 1, { labels: [docker('1.1.1.1'), docker('2.2.2.2')] })]), ['docker'], ['1.1.1.1', '2.2.2.2']],
  ];
  for (const [why, tk, srcs, want] of rows) t.same(taskIPs(tk, srcs, ['9.9.9.9']), want, why);
  const legacy = parseState({ leader: 'm@1.1.1.1:5050', frameworks: [{ name: 'f', tasks: [{ id: 't', statuses: [{ state: 'TASK_RUNNING', container_status: { network_infos: [{ ip_address: '7.7.7.7', ip_addresses: [] }] } }] }] }] });
  t.same(legacy.frameworks[0]!.tasks[0]!.statuses[0]!.netinfo, ['7.7.7.7'], '0.25 ip_address fallback');
  t.throws(() => parseState([]), { name: 'StateError' });
  t.throws(() => parseState({ frameworks: [] }), { name: 'StateError' }, 'no leader');
});

t.test('robustness: hostname agent pid, hostname master, long canonical label', async (t) => {
  const warnings: string[] = [];
  const raw = {
    leader: 'master@master.example:5050',
    slaves: [
      { id: 'a-S1', pid: 'slave(1)@agent1.example:5051' },
      { id: 'a-S2', pid: 'slave(1)@unresolvable.example:5051' },
      { id: 'a-S3', pid: 'slave(1)@10.0.0.3:5051' },
    ],
    frameworks: [
      {
        name: 'marathon',
        tasks: [
          { id: 'app.1', name: 'app', slave_id: 'a-S1', state: 'TASK_RUNNING', statuses: [], resources: { ports: '[31000-31000]' } },
          { id: 'app.2', name: 'app', slave_id: 'a-S2', state: 'TASK_RUNNING', statuses: [], resources: { ports: '[31001-31001]' } },
          { id: 'long.1', name: 'x'.repeat(62), slave_id: 'a-S3', state: 'TASK_RUNNING', statuses: [], resources: { ports: '[31002-31002]' } },
        ],
      },
    ],
  };
  const hosts = new Map([['agent1.example', ['10.0.0.1']], ['master.example', ['10.0.0.9']]]);
  const rs = generateRecords(parseState(raw), { ...base, ipSources: ['netinfo', 'mesos', 'host'], masters: ['master.example:5050', 'bad-master'], enforceRFC952: false }, { hosts, warn: (w) => warnings.push(w) });
  t.same([...rs.a.get('app.marathon.mesos')!], ['10.0.0.1'], 'resolved agent hostname');
  t.same([...rs.a.get('leader.mesos')!], ['10.0.0.9']);
  t.ok(warnings.some((w) => w.includes('unresolvable.example')), 'unresolvable agent logged');
  t.ok(warnings.some((w) => w.includes('bad-master')), 'bad master logged');
  const longSrv = [...rs.srv.get(`_${'x'.repeat(62)}._tcp.marathon.mesos`)!][0]!;
  t.ok(longSrv.split(':')[0]!.split('.').every((l) => l.length <= 63), 'SRV target labels fit');
  t.equal(canonicalLabel('x'.repeat(63), 'abcde', 's3').length, 63);
  t.equal(canonicalLabel('x'.repeat(63), 'abcde', 's3'), canonicalLabel('x'.repeat(63), 'abcde', 's3'), 'deterministic');
});
