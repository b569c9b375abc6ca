// zk:// URLs and Mesos MasterInfo znodes, as tables (no ZooKeeper needed).
import t from 'tap';
import { leaderOrder, masterInfoAddress, parseZkUrl, uint32ToIp, znodeSeq } from '../zk.js';

t.test('parseZkUrl', async (t) => {
  const ok: [string, ReturnType<typeof parseZkUrl>][] = [
    ['zk://10.0.0.1:2181/mesos', { hosts: [{ host: '10.0.0.1', port: 2181 }], path: '/mesos' }],
    ['zk://a:1,b:2,c/mesos/', { hosts: [{ host: 'a', port: 1 }, { host: 'b', port: 2 }, { host: 'c', port: 2181 }], path: '/mesos' }],
    ['zk://user:pw@10.0.0.1:2181/dcos/mesos', { hosts: [{ host: '10.0.0.1', port: 2181 }], path: '/dcos/mesos', auth: 'user:pw' }],
    ['zk://[::1]:2181/mesos', { hosts: [{ host: '::1', port: 2181 }], path: '/mesos' }],
    ['zk://10.0.0.1:2181', { hosts: [{ host: '10.0.0.1', port: 2181 }], path: '/' }],
  ];
  for (const [url, want] of ok) t.same(parseZkUrl(url), want, url);
  for (const bad of ['http://10.0.0.1/mesos', 'zk:///mesos', 'zk://h:port/mesos', 'zk://h:70000/mesos'])
    t.throws(() => parseZkUrl(bad), { name: 'ConfigError', field: 'Zk' }, bad);
});

t.test('znode names and leader order', async (t) => {
  t.same(znodeSeq('json.info_0000000012'), { kind: 'json', seq: 12 });
  t.same(znodeSeq('info_0000000003'), { kind: 'protobuf', seq: 3 });
  t.same(znodeSeq('log_replicas'), { kind: 'other', seq: -1 });
  t.same(leaderOrder(['json.info_0000000010', 'info_0000000001', 'json.info_0000000002', 'log_replicas', 'json.info_0000000009']),
    ['json.info_0000000002', 'json.info_0000000009', 'json.info_0000000010']);
  t.same(leaderOrder([]), []);
});

t.test('masterInfoAddress', async (t) => {
  const rows: { data: string; want?: string; err?: RegExp }[] = [
    { data: '{"address":{"hostname":"m1","ip":"10.0.0.1","port":5050},"hostname":"m1","ip":16777226,"port":5050}', want: '10.0.0.1:5050' },
    { data: '{"address":{"hostname":"m1.example","port":5050}}', want: 'm1.example:5050' },
    { data: '{"address":{"ip":"fd00::1","port":5050}}', want: '[fd00::1]:5050' },
    { data: '{"ip":16777343,"port":5050,"hostname":"x"}', want: '127.0.0.1:5050' },
    { data: '{"hostname":"m2","port":5051}', want: 'm2:5051' },
    { data: '{"address":{"ip":"10.0.0.1"},"ip":16777226,"port":5050}', want: '10.0.0.1:5050' },
    { data: '', err: /empty/ },
    { data: '{nope', err: /not JSON/ },
    { data: 'null', err: /not a JSON object/ },
    { data: '[{"ip":1}]', err: /not a JSON object/ },
    { data: '{"address":{"ip":"10.0.0.1"}}', err: /no address/ },
    { data: '{"address":{"ip":"10.0.0.1","port":0}}', err: /no address/ },
    { data: '{"ip":"10.0.0.1","port":5050}', err: /no address/ },
    { data: '{"ip":-5,"port":5050}', err: /no address/ },
  ];
  for (const r of rows) {
    if (r.want) t.equal(masterInfoAddress('/mesos/json.info_1', Buffer.from(r.data)), r.want, r.data);
    else t.throws(() => masterInfoAddress('/mesos/json.info_1', Buffer.from(r.data)), { name: 'ZnodeError', message: r.err }, r.data || '(empty)');
  }
  t.equal(uint32ToIp(0x0100007f), '127.0.0.1', 'network byte order in a little-endian uint32, as Mesos writes it');
});
