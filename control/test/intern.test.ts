/**
 * Shared strings in the agent's held view (control/intern.ts, issue #26): entries decoded from an
 * update keep their values (the same snapshot as before, field for field), and the view holds far
 * less heap than a view that does not share them (every backend's agent id and task id its own
 * copy there), measured after full collections. The lasting table is bounded.
 */
import t from 'tap';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { Vip, ZoneRecord } from '../../contracts/index.js';
import { Interner } from '../intern.js';
import type { WireUpdate } from '../proto.js';
import { HeldView } from '../view.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const AGENT = 'df9053c1-b69a-43f4-a3c9-1d2bd75ee2a0-S0';

function fullUpdate(n: number): WireUpdate {
  const vips: string[] = [];
  const zones: string[] = [];
  for (let i = 0; i < n; i++) {
    const app = Math.floor(i / 100);
    const ip = `11.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
    const dns = `b${String(app).padStart(3, '0')}-p${i % 100}.marathon.l4lb.thisdcos.directory`;
    const backends = [0, 1, 2].map((k) => ({ ip: '10.0.0.3', port: 20000 + i, weight: 1, task_id: `bench_b${app}.9d4594d6-d44f-42e1-ac57-0cbfd8de0a2${k}`, agent_id: AGENT }));
    const vip: Vip = { key: `tcp/${ip}:80`, name: `/b${app}-p${i % 100}`, framework: 'marathon', dns_name: dns, ip, port: 80, protocol: 'tcp', backends };
    vips.push(JSON.stringify(vip));
    const rec: ZoneRecord = { key: `${dns}/A/${ip}`, name: dns, type: 'A', data: ip };
    zones.push(JSON.stringify(rec));
  }
  return { history: 'h', version: 1, from_version: 0, full: true, parts: [{ part: 'vips', upserts: vips, removes: [] }, { part: 'zones', upserts: zones, removes: [] }], overlay: '' };
}

function heapUsed(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

t.test('the view holds the same entries as without sharing, in much less heap', async (t) => {
  const n = 4000;
  const u = fullUpdate(n);
  const plainView = new HeldView({ intern: false });
  const h0 = heapUsed();
  plainView.apply(u);
  const plainBytes = heapUsed() - h0;
  const view = new HeldView();
  const h1 = heapUsed();
  view.apply(u);
  const viewBytes = heapUsed() - h1;
  const snap = view.snapshot();
  const plainSnap = plainView.snapshot();
  const plain = [plainSnap.parts.vips, plainSnap.parts.zones];
  // (compared as text: a deep comparison of thousands of entries is slow in tap)
  t.equal(JSON.stringify(snap.parts.vips), JSON.stringify(plain[0]), 'the vips, field for field');
  t.equal(JSON.stringify(snap.parts.zones), JSON.stringify(plain[1]), 'the zone records, field for field');
  // Per backend an agent id (39 characters: a 56-byte string) and a task id (47: 64 bytes) no longer
  // copied: well over half the agent ids' copies must be gone (3 x n x 40 bytes; measured 60-85 per backend).
  const saved = plainBytes - viewBytes;
  t.ok(saved > 3 * n * 40, `the view holds ${(viewBytes / 1024).toFixed(0)} KiB against ${(plainBytes / 1024).toFixed(0)} KiB without sharing (saved ${(saved / 1024).toFixed(0)} KiB; at least ${((3 * n * 40) / 1024).toFixed(0)} expected)`);
  t.ok(plain.length && snap.parts.vips.length === n, 'kept alive until measured');
});

t.test('a malformed entry is left as it is; the lasting table is bounded', async (t) => {
  const i = new Interner(3);
  const odd = { key: 'k', backends: [null, 5, { ip: 7, agent_id: ['x'] }], framework: 3 };
  i.entry('vips', odd);
  i.entry('zones', null);
  i.entry('vips', 'text');
  t.same(odd, { key: 'k', backends: [null, 5, { ip: 7, agent_id: ['x'] }], framework: 3 }, 'unchanged');
  for (const s of ['a', 'b', 'c', 'd', 'e']) i.lastingOf(s);
  t.ok(i.sizes.lasting <= 3, `lasting table ${i.sizes.lasting} <= 3`);
  i.updateOf('x');
  i.endUpdate();
  t.equal(i.sizes.update, 0, 'the update table is emptied after the update');
});
