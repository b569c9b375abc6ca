import t from 'tap';
import { FakeClock } from '../../common/clock.js';
import type { KvStore } from '../../contracts/index.js';
import { VipAllocator } from '../allocator.js';
import { vipSource } from '../source.js';

/** An in-memory KvStore that records the order of writes. */
function memStore(): KvStore & { data: Map<string, unknown>; writes: string[] } {
  const data = new Map<string, unknown>();
  const writes: string[] = [];
  return {
    data,
    writes,
    async get(k) {
      return data.get(k) as never;
    },
    async put(k, v) {
      writes.push(`put ${k}`);
      data.set(k, JSON.parse(JSON.stringify(v)));
    },
    async delete(k) {
      writes.push(`delete ${k}`);
      data.delete(k);
    },
    async list(prefix) {
      return [...data.entries()].filter(([k]) => k.startsWith(prefix)).sort(([a], [b]) => (a < b ? -1 : 1)) as never;
    },
  };
}

t.test('allocates lowest free, persists first, stable across restarts, frees after grace', async (t) => {
  const store = memStore();
  const clock = new FakeClock();
  const a = new VipAllocator(store, { clock, graceMs: 60_000 });
  const ips = await a.ensure([{ name: 'web.marathon', family: 4 }, { name: 'api.marathon', family: 4 }, { name: 'web.marathon', family: 6 }]);
  t.same(Object.fromEntries(ips), { 'web.marathon/4': '11.0.0.1', 'api.marathon/4': '11.0.0.2', 'web.marathon/6': 'fd01:c::1' });
  t.equal(store.writes.length, 3, 'every allocation persisted');

  const b = new VipAllocator(store, { clock, graceMs: 60_000 });
  t.same(Object.fromEntries(await b.ensure([{ name: 'api.marathon', family: 4 }])), { 'api.marathon/4': '11.0.0.2' }, 'same IP after restart');
  clock.advance(59_000);
  await b.ensure([{ name: 'api.marathon', family: 4 }]);
  t.ok(store.data.has('l4lb/vip/4/web.marathon'), 'kept during the grace period');
  clock.advance(2_000);
  await b.ensure([{ name: 'api.marathon', family: 4 }]);
  t.notOk(store.data.has('l4lb/vip/4/web.marathon'), 'freed after the grace period');
  t.same(Object.fromEntries(await b.ensure([{ name: 'api.marathon', family: 4 }, { name: 'new.marathon', family: 4 }])), { 'api.marathon/4': '11.0.0.2', 'new.marathon/4': '11.0.0.1' }, 'freed IP reused');
});

t.test('a failed store write hands nothing out', async (t) => {
  const store = memStore();
  store.put = async () => {
    throw new Error('disk full');
  };
  const a = new VipAllocator(store);
  await t.rejects(a.ensure([{ name: 'web.marathon', family: 4 }]), /disk full/);
  t.same(a.allocations(), []);
});

t.test('vipSource gives named VIPs their IP and DNS name, drops VIPs without backends', async (t) => {
  const store = memStore();
  let state: Record<string, unknown> = {
    slaves: [{ id: 'a1', pid: 'slave(1)@10.0.0.1:5051' }],
    frameworks: [{ name: 'marathon', tasks: [{ id: 't1', slave_id: 'a1', state: 'TASK_RUNNING', statuses: [], discovery: { ports: { ports: [{ number: 31000, protocol: 'tcp', labels: { labels: [{ key: 'VIP_0', value: '/my/web:80' }, { key: 'VIP_1', value: 'oops' }] } }] } } }] }],
  };
  const changes: (() => void)[] = [];
  const handle = { store, state: () => state, onChange: (fn: () => void) => (changes.push(fn), () => undefined), routes: () => undefined } as never;
  const src = vipSource(handle, { clock: new FakeClock() });
  let fired = 0;
  src.onChange(() => fired++);
  t.same(await src.entries(), [
    { key: 'tcp/11.0.0.1:80', ip: '11.0.0.1', port: 80, protocol: 'tcp', name: '/myweb', framework: 'marathon', dns_name: 'myweb.marathon.l4lb.thisdcos.directory', backends: [{ ip: '10.0.0.1', port: 31000, weight: 1, task_id: 't1', agent_id: 'a1' }] },
  ]);
  t.equal(src.problems().length, 1, 'bad label reported');
  changes.forEach((f) => f());
  t.equal(fired, 1, 'master changes fire onChange');
  state = { slaves: [], frameworks: [] };
  t.same(await src.entries(), [], 'no backends: no VIP');
});

t.test('a named VIP of a dual-stack task gets an IPv4 and an IPv6 address (v6 from the configured range), each with its family backends', async (t) => {
  const store = memStore();
  const state = {
    slaves: [{ id: 'a1', pid: 'slave(1)@10.0.0.1:5051' }],
    frameworks: [
      {
        name: 'marathon',
        tasks: [
          {
            id: 'ds.1',
            slave_id: 'a1',
            state: 'TASK_RUNNING',
            statuses: [{ state: 'TASK_RUNNING', timestamp: 1, container_status: { network_infos: [{ name: 'dual', ip_addresses: [{ ip_address: '9.0.0.2' }, { protocol: 'IPv6', ip_address: 'fd00:9::2' }] }] } }],
            discovery: { ports: { ports: [{ number: 8080, protocol: 'tcp', labels: { labels: [{ key: 'VIP_0', value: '/ds:80' }] } }] } },
          },
          {
            id: 'v4.1',
            slave_id: 'a1',
            state: 'TASK_RUNNING',
            statuses: [],
            discovery: { ports: { ports: [{ number: 31000, protocol: 'tcp', labels: { labels: [{ key: 'VIP_0', value: '/v4only:80' }] } }] } },
          },
        ],
      },
    ],
  };
  const addresses = { namedVipRanges: { 4: '11.0.0.0/8', 6: 'fd99:5::/112' }, vipRefusal: () => undefined };
  const handle = { store, state: () => state, addresses, onChange: () => () => undefined, routes: () => undefined } as never;
  const src = vipSource(handle, { clock: new FakeClock() });
  const got = (await src.entries()).map((v) => `${v.dns_name} ${v.ip} ${v.port} ${v.backends.map((b) => `${b.ip}:${b.port}`).join(',')}`);
  t.same(got.sort(), [
    'ds.marathon.l4lb.thisdcos.directory 11.0.0.1 80 9.0.0.2:8080',
    'ds.marathon.l4lb.thisdcos.directory fd99:5::1 80 fd00:9::2:8080',
    'v4only.marathon.l4lb.thisdcos.directory 11.0.0.2 80 10.0.0.1:31000',
  ]);
});
