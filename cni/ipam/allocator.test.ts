/**
 * The allocator against a real on-disk store in a temp dir (no kernel needed).
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { readFile, writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Allocator } from './allocator.js';
import { parseCidr, parseIp4 } from '../../common/cidr.js';
import { tempDir } from '../test/helpers.js';
import type { IpamRange } from '../config.js';

function range(subnet: string, extra: Partial<Record<'gateway' | 'rangeStart' | 'rangeEnd', string>> = {}): IpamRange {
  const c = parseCidr(subnet)!;
  const r: IpamRange = { subnet: c, gateway: extra.gateway ? parseIp4(extra.gateway)! : c.base + 1n };
  if (extra.rangeStart) r.rangeStart = parseIp4(extra.rangeStart)!;
  if (extra.rangeEnd) r.rangeEnd = parseIp4(extra.rangeEnd)!;
  return r;
}

t.test('allocation order, idempotence, release', async (t) => {
  const dir = await tempDir(t);
  const a = new Allocator(dir, 'dcos', range('9.0.1.0/24'));
  const rows: [string, string, string][] = [
    ['c1', 'eth0', '9.0.1.2'],
    ['c2', 'eth0', '9.0.1.3'],
    ['c1', 'eth0', '9.0.1.2'], // same attachment: same address
    ['c1', 'eth1', '9.0.1.4'], // another interface: another address
  ];
  for (const [cid, ifname, want] of rows) t.equal(await a.allocate(cid, ifname), want, `${cid}/${ifname}`);
  t.equal(await readFile(join(dir, 'dcos', '9.0.1.2'), 'utf8'), 'c1\r\neth0', 'host-local file format');
  t.same(await a.release('c1', 'eth0'), ['9.0.1.2']);
  t.same(await a.release('c1', 'eth0'), [], 'release is idempotent');
  t.equal(await a.allocate('c3', 'eth0'), '9.0.1.5', 'round-robin continues after the last reserved');
});

t.test('exhaustion names the subnet; ranges and gateway respected', async (t) => {
  const dir = await tempDir(t);
  const a = new Allocator(dir, 'small', range('10.5.0.0/29'));
  const got = new Set<string>();
  for (let i = 0; i < 5; i++) got.add(await a.allocate(`c${i}`, 'eth0'));
  t.same([...got].sort(), ['10.5.0.2', '10.5.0.3', '10.5.0.4', '10.5.0.5', '10.5.0.6']);
  await t.rejects(a.allocate('c9', 'eth0'), { name: 'CniError', code: 100, message: /no free address in 10\.5\.0\.0\/29 for network small/ });
  const b = new Allocator(dir, 'ranged', range('10.6.0.0/24', { rangeStart: '10.6.0.10', rangeEnd: '10.6.0.11', gateway: '10.6.0.10' }));
  t.equal(await b.allocate('x', 'eth0'), '10.6.0.11', 'gateway skipped');
  await t.rejects(b.allocate('y', 'eth0'), { message: /10\.6\.0\.0\/24 \(10\.6\.0\.10-10\.6\.0\.11\)/ });
});

t.test('a restart (new allocator on the same dir) keeps allocations', async (t) => {
  const dir = await tempDir(t);
  const first = new Allocator(dir, 'dcos', range('9.0.2.0/24'));
  const ip = await first.allocate('keep', 'eth0');
  const second = new Allocator(dir, 'dcos', range('9.0.2.0/24'));
  t.equal(await second.allocate('keep', 'eth0'), ip);
  t.not(await second.allocate('other', 'eth0'), ip);
  t.equal((await second.list()).length, 2);
});

t.test('GC keeps only valid attachments', async (t) => {
  const dir = await tempDir(t);
  const a = new Allocator(dir, 'dcos', range('9.0.3.0/24'));
  for (const c of ['a', 'b', 'c']) await a.allocate(c, 'eth0');
  const removed = await a.gc([{ containerID: 'b', ifname: 'eth0' }]);
  t.same(removed.map((r) => r.containerId).sort(), ['a', 'c']);
  t.same((await a.list()).map((r) => r.containerId), ['b']);
});

t.test('requested address via CNI_ARGS IP', async (t) => {
  const dir = await tempDir(t);
  const a = new Allocator(dir, 'dcos', range('9.0.4.0/24'));
  t.equal(await a.allocate('a', 'eth0', '9.0.4.77'), '9.0.4.77');
  await t.rejects(a.allocate('b', 'eth0', '9.0.4.77'), { code: 4, message: /already allocated/ });
  await t.rejects(a.allocate('c', 'eth0', '9.0.5.1'), { code: 4, message: /not a usable address/ });
});

t.test('a lock left by a dead process is broken', async (t) => {
  const dir = await tempDir(t);
  const a = new Allocator(dir, 'dcos', range('9.0.5.0/24'), { timeoutMs: 5000 });
  const dead = spawnSync(process.execPath, ['-e', '0']).pid!;
  await mkdir(join(dir, 'dcos'), { recursive: true });
  await writeFile(join(dir, 'dcos', '.sextant.lock'), `${dead} deadbeef`);
  t.equal(await a.allocate('a', 'eth0'), '9.0.5.2');
  const live = new Allocator(dir, 'dcos', range('9.0.5.0/24'), { timeoutMs: 300, staleMs: 60000 });
  await writeFile(join(dir, 'dcos', '.sextant.lock'), `${process.pid} held`);
  await t.rejects(live.allocate('b', 'eth0'), { code: 11, message: /timed out waiting for lock/ }, 'a live holder is respected');
});
