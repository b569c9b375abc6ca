import t, { type Test } from 'tap';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FileKvStore, MemoryKvStore } from '../store/index.js';
import { StoreCorruptError } from '../errors.js';
import type { KvStore } from '../../contracts/index.js';
import { storeContract } from './store-contract.js';
import { spawnTracked } from '../../test/lib/index.js';

function tmp(t: Test): string {
  const d = mkdtempSync(join(tmpdir(), 'sx-store-'));
  t.teardown(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

const impls: [string, (t: Test) => Promise<KvStore>][] = [
  ['memory', async () => new MemoryKvStore()],
  [
    'file',
    async (t) => {
      const s = new FileKvStore(tmp(t));
      await s.open();
      return s;
    },
  ],
];

for (const [name, make] of impls) storeContract(t, name, make);

t.test('file store: values survive reopening; leftovers of interrupted writes are ignored', async (t) => {
  const dir = tmp(t);
  const a = new FileKvStore(dir);
  await a.open();
  await a.put('master/agents/x-S0', { ip: '127.0.0.2' });
  await a.put('marathon/apps/group/web', { instances: 3 });
  writeFileSync(join(dir, 'store', '.tmp-123-1-master%2Fagents%2Fhalf'), '{"ip": "127.');
  const b = new FileKvStore(dir);
  await b.open();
  t.same(await b.get('marathon/apps/group/web'), { instances: 3 });
  t.same((await b.list('master/')).map(([k]) => k), ['master/agents/x-S0']);
  t.notOk(readdirSync(join(dir, 'store')).some((f) => f.startsWith('.tmp-')), 'tmp files removed');
});

t.test('file store: a corrupt file is an error naming it', async (t) => {
  const dir = tmp(t);
  const a = new FileKvStore(dir);
  await a.open();
  await a.put('master/tasks/t1', { ok: true });
  const file = join(dir, 'store', 'master%2Ftasks%2Ft1');
  writeFileSync(file, '{"ok": tr');
  const b = new FileKvStore(dir);
  const err = await b.open().then(() => undefined, (e: unknown) => e);
  t.ok(err instanceof StoreCorruptError, 'StoreCorruptError');
  t.equal((err as StoreCorruptError).file, file);
  t.match((err as Error).message, file);
});

t.test('file store: kill -9 while writing loses nothing acknowledged and tears nothing', async (t) => {
  const dir = tmp(t);
  const script = fileURLToPath(new URL('./fixtures/store-writer.ts', import.meta.url));
  for (let round = 0; round < 3; round++) {
    const p = spawnTracked(t, process.execPath, ['--import', 'tsx', script, dir]);
    await p.waitFor(/ready/, 20000);
    // Let it write a while, then kill it mid-stream.
    await p.waitFor(new RegExp(`ack k/\\d ${200 + round * 37}\\n`), 20000);
    p.kill('SIGKILL');
    await p.exited;
    const acked = new Map<string, number>();
    for (const m of p.output().matchAll(/ack (k\/\d) (\d+)\n/g)) acked.set(m[1]!, Number(m[2]));
    const s = new FileKvStore(dir);
    await s.open(); // throws StoreCorruptError on a torn file
    for (const [k, n] of acked) {
      const v = await s.get<{ n: number; pad: string }>(k);
      t.ok(v && v.n >= n, `round ${round}: ${k} has ack ${n} or later (got ${v?.n})`);
    }
  }
});
