/**
 * A fast loop for the agent's memory at N VIPs (issue #26), beside the real agent bench (agent.ts,
 * 100+ s of Marathon ramp): one process, in a network namespace of its own, builds the agent's l4lb
 * (nftables) and dispatcher plugins as the agent does, folds a synthetic full update shaped like the
 * bench's (N/100 apps of 3 tasks x 100 VIP ports on one worker, their zone records) into a HeldView,
 * applies the view to the consumers, scrapes the metrics registry as the bench does, and prints the
 * heap after a full collection and the RSS. Optionally writes a heap snapshot.
 *
 *   unshare -n node --expose-gc dist/bench/l4lb/agent-heap.js [N] [--only=l4lb|dispatcher|view] [--snapshot=FILE] [--changes=K]
 *     [--metrics-sizes] [--scrape-profile] [--scrape-alloc (with --min-semi-space-size=64 --max-semi-space-size=64)]
 *     [--read-alloc] [--read-profile] (the same for GET /net/v1/metrics, which the masters poll every 5 s)
 *
 * Not run by `npm run bench`; the figures it prints are for comparing code, the real agent's figures
 * come from agent.ts.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getHeapSpaceStatistics, getHeapStatistics, writeHeapSnapshot } from 'node:v8';
import { createRegistry } from '../../common/metrics.js';
import { createLogger } from '../../common/log.js';
import { limitYoungGeneration } from '../../agent/heap.js';
import { HeldView } from '../../control/view.js';
import { canonicalJson } from '../../control/delta.js';
import { l4lbAgentPlugin, vipDnsName } from '../../l4lb/index.js';
import { dispatcherAgentPlugin } from '../../dns/dispatcher/index.js';
import type { AgentHost, SnapshotConsumer, Vip, ZoneRecord } from '../../contracts/index.js';
import { loadControlProto, type WireUpdate } from '../../control/proto.js';
import { loadNative } from '../../common/native.js';

const args = process.argv.slice(2);
const n = Number(args.find((a) => /^\d+$/.test(a)) ?? 10000);
const opt = (k: string) => args.find((a) => a.startsWith(`--${k}=`))?.slice(k.length + 3);
const only = opt('only');
const snapshotFile = opt('snapshot');
const changes = Number(opt('changes') ?? 0);
const scrapes = Number(opt('scrapes') ?? 3);
/** `--trim`: glibc's malloc_trim(0) after the apply and after the scrapes (native/malloctrim.c). */
const trim = args.includes('--trim');

const WORKER_IP = '10.0.0.2';
const WORKER_ID = 'c0ffee00-1111-2222-3333-444455556666-S1';

/** N VIPs as the bench makes them: apps `bNNN` of 3 tasks, each task with 100 ports `/bNNN-pMM:80`. */
export function syntheticVips(count: number, hex: (i: number) => string): { vips: Vip[]; zones: ZoneRecord[] } {
  const vips: Vip[] = [];
  const zones: ZoneRecord[] = [];
  const apps = count / 100;
  for (let a = 0; a < apps; a++) {
    const app = `b${String(a).padStart(3, '0')}`;
    const tasks = [0, 1, 2].map((t) => `${app}.instance-${hex(a * 3 + t)}._app.1`);
    for (const kind of ['agentip', 'autoip']) {
      const name = `${app}.marathon.${kind}.dcos.thisdcos.directory`;
      zones.push({ key: `${name}/A/${WORKER_IP}`, name, type: 'A', data: WORKER_IP });
    }
    for (let p = 0; p < 100; p++) {
      const label = `${app}-p${String(p).padStart(2, '0')}`;
      const i = a * 100 + p;
      const ip = `11.0.${(i >> 8) & 255}.${i & 255}`;
      const dns = vipDnsName(label, 'marathon');
      vips.push({
        key: `tcp/${ip}:80`,
        name: `/${label}`,
        framework: 'marathon',
        dns_name: dns,
        ip,
        port: 80,
        protocol: 'tcp',
        // Sorted by address then port, as the master's model sorts them (l4lb/model.ts).
        backends: tasks.map((task_id, t) => ({ ip: WORKER_IP, port: 31000 + ((a * 300 + t * 100 + p) % 1000), weight: 1, task_id, agent_id: WORKER_ID })).sort((x, y) => x.port - y.port),
      });
      zones.push({ key: `${dns}/A/${ip}`, name: dns, type: 'A', data: ip });
    }
  }
  return { vips, zones };
}

const hex = (i: number) => `${i.toString(16).padStart(8, '0')}-0000-4000-8000-${(i * 7919).toString(16).padStart(12, '0')}`;

function update(version: number, vips: Vip[], zones: ZoneRecord[]): WireUpdate {
  return {
    history: 'h1',
    version,
    full: true,
    from_version: 0,
    overlay: '',
    parts: [
      { part: 'vips', upserts: vips.map(canonicalJson), removes: [] },
      { part: 'zones', upserts: zones.map(canonicalJson), removes: [] },
      { part: 'masters', upserts: [canonicalJson({ key: '10.0.0.1', id: 'm1', ip: '10.0.0.1', port: 5050, control_port: 5060, dns_port: 61053, leader: true })], removes: [] },
    ],
  };
}

function status(): { rss: number; anon: number; file: number } {
  const s = readFileSync('/proc/self/status', 'utf8');
  const kb = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(s)?.[1] ?? NaN) / 1024;
  return { rss: kb('VmRSS'), anon: kb('RssAnon'), file: kb('RssFile') };
}

/** `--metrics-sizes`: the exposition's bytes and series per metric name, largest first. */
function printMetricsSizes(text: string): void {
  const by = new Map<string, { bytes: number; series: number }>();
  for (const line of text.split('\n')) {
    const name = line.startsWith('#') ? line.split(' ')[2] ?? '' : /^[^{ ]+/.exec(line)?.[0] ?? '';
    const base = name.replace(/_(bucket|sum|count)$/, '');
    const e = by.get(base) ?? { bytes: 0, series: 0 };
    e.bytes += Buffer.byteLength(line) + 1;
    if (!line.startsWith('#') && line) e.series++;
    by.set(base, e);
  }
  console.log(`metrics: ${Buffer.byteLength(text)} bytes`);
  for (const [k, e] of [...by].sort((a, b) => b[1].bytes - a[1].bytes).slice(0, 15)) console.log(`  ${k.padEnd(48)} ${(e.bytes / 1e6).toFixed(2)} MB ${e.series} series`);
}

/**
 * `--scrape-alloc` (run with `--min-semi-space-size=64 --max-semi-space-size=64`, so that no
 * collection runs inside a scrape): the heap allocated by one scrape, median of 5.
 */
async function scrapeAlloc(scrape: () => Promise<string>, what = 'one scrape'): Promise<void> {
  const got: number[] = [];
  const cpu: number[] = [];
  for (let i = 0; i < 5; i++) {
    gc?.();
    const before = process.memoryUsage().heapUsed;
    const c0 = process.cpuUsage();
    const text = await scrape();
    const c = process.cpuUsage(c0);
    got.push(process.memoryUsage().heapUsed - before);
    cpu.push((c.user + c.system) / 1000);
    if (!text) throw new Error('empty scrape');
  }
  const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[2]!;
  console.log(`${what} allocates ${(med(got) / 1048576).toFixed(2)} MiB of heap (median of 5: ${got.map((b) => (b / 1048576).toFixed(2)).join(' / ')}), CPU ${med(cpu).toFixed(1)} ms (median)`);
}

interface ProfileNode {
  callFrame: { functionName: string; url: string };
  selfSize: number;
  children: ProfileNode[];
}

/**
 * `--scrape-profile`: V8's sampling heap profiler over one scrape, collected objects included: the
 * bytes allocated by part (the nftables read, the series, the labels, prom-client's text).
 */
async function scrapeProfile(scrape: () => Promise<string>): Promise<void> {
  const { Session } = await import('node:inspector/promises');
  const session = new Session();
  session.connect();
  gc?.();
  await session.post('HeapProfiler.startSampling', { samplingInterval: 512, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true } as never);
  await scrape();
  const { profile } = (await session.post('HeapProfiler.stopSampling')) as unknown as { profile: { head: ProfileNode } };
  session.disconnect();
  const parts = new Map<string, number>();
  const partOf = (urls: string[]): string => {
    const has = (re: RegExp) => urls.some((u) => re.test(u));
    if (has(/vipmetrics\/(nft-counters|ct-bytes|pair-layout)/)) return 'nftables read';
    if (has(/vipmetrics\/node\./)) return 'node view';
    if (has(/vipmetrics\/labels\./)) return 'labels';
    if (has(/vipmetrics\/prometheus\./)) return 'series';
    if (has(/prom-client/)) return 'prom-client';
    return 'other';
  };
  const walk = (n: ProfileNode, urls: string[]) => {
    const here = [...urls, n.callFrame.url];
    if (n.selfSize) parts.set(partOf(here), (parts.get(partOf(here)) ?? 0) + n.selfSize);
    for (const c of n.children) walk(c, here);
  };
  walk(profile.head, []);
  const mib = (b: number) => (b / 1048576).toFixed(2);
  console.log(`one scrape allocated ${mib([...parts.values()].reduce((a, b) => a + b, 0))} MiB (sampled): ${[...parts].sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${mib(v)}`).join(', ')}`);
}

const gc = (globalThis as { gc?: () => void }).gc;

/** Resident KiB of anonymous mappings of whole 256 KiB blocks at 256 KiB boundaries: V8's pages (its large objects aside). */
function v8PagesMiB(): number {
  let kb = 0;
  let on = false;
  for (const l of readFileSync('/proc/self/smaps', 'utf8').split('\n')) {
    const m = /^([0-9a-f]+)-([0-9a-f]+) \S+ \S+ \S+ \d+\s*(.*)$/.exec(l);
    if (m) {
      const [s, e] = [parseInt(m[1]!, 16), parseInt(m[2]!, 16)];
      on = m[3] === '' && s % 262144 === 0 && (e - s) % 262144 === 0;
    } else if (on && l.startsWith('Rss:')) kb += Number(l.split(/\s+/)[1]);
  }
  return kb / 1024;
}

function row(stage: string): void {
  gc?.();
  gc?.();
  const m = process.memoryUsage();
  const s = status();
  const h = getHeapStatistics();
  const f = (b: number) => (b / 1048576).toFixed(1);
  console.log(`${stage.padEnd(28)} rss ${s.rss.toFixed(1)} anon ${s.anon.toFixed(1)} file ${s.file.toFixed(1)} | heap used ${f(m.heapUsed)} total ${f(m.heapTotal)} physical ${f(h.total_physical_size)} (large objects ${f(getHeapSpaceStatistics().filter((x) => /lo_space/.test(x.space_name)).reduce((a, x) => a + x.physical_space_size, 0))}) | V8 256K pages ${v8PagesMiB().toFixed(1)} | malloced ${f(h.malloced_memory)} external ${f(m.external)} arrayBuffers ${f(m.arrayBuffers)}`);
}

function timedTrim(native: { trim(): boolean }): void {
  const [c0, t0] = [process.cpuUsage(), performance.now()];
  native.trim();
  const c = process.cpuUsage(c0);
  row(`malloc_trim(0) ${(performance.now() - t0).toFixed(1)} ms, CPU ${((c.user + c.system) / 1000).toFixed(1)} ms`);
}

async function main(): Promise<void> {
  if (!gc) throw new Error('run with node --expose-gc');
  limitYoungGeneration();
  spawnSync('ip', ['link', 'set', 'lo', 'up']);
  const workDir = mkdtempSync(join(tmpdir(), 'sextant-agent-heap-'));
  const consumers: SnapshotConsumer[] = [];
  const registry = createRegistry();
  // The routes the plugins mount: `--read-alloc` calls GET /net/v1/metrics (what the masters poll every 5 s).
  const gets = new Map<string, () => Promise<{ json: unknown }>>();
  const router = { get: (path: string, h: () => Promise<{ json: unknown }>) => gets.set(path, h) } as never;
  const host: AgentHost = {
    handle: { agentId: 'a1', ip: '127.0.0.1', workDir, masters: ['127.0.0.1:5050'], registry, routes: (fn) => fn(router) },
    control: { addConsumer: (c: SnapshotConsumer) => consumers.push(c) } as unknown as AgentHost['control'],
    metrics: registry,
    log: createLogger('agent-heap'),
  };
  const comps = [];
  if (only !== 'dispatcher' && only !== 'view') comps.push(l4lbAgentPlugin({ driver: 'nftables', reconcileMs: 3_600_000 })(host));
  if (only !== 'l4lb' && only !== 'view') comps.push(dispatcherAgentPlugin({ config: { bind_ips: ['127.0.0.1'], udp_port: 5353, tcp_port: 5353 } })(host));
  for (const c of comps) await c.start();
  row('started, no VIP');
  const view = new HeldView();
  const apply = async () => {
    const snap = view.snapshot();
    for (const c of consumers) await c.apply(snap);
  };
  let built: { vips: Vip[]; zones: ZoneRecord[] } | undefined = syntheticVips(n, hex);
  let u: WireUpdate | undefined = update(1, built.vips, built.zones);
  built = undefined;
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  // Through the wire encoding, as the agent receives it (one Buffer, decoded by the proto).
  const proto = loadControlProto();
  let wire: Buffer | undefined = proto.encodeUpdate(u);
  u = undefined;
  view.apply(proto.decodeUpdate(wire));
  wire = undefined;
  await apply();
  const cpu = process.cpuUsage(cpu0);
  console.log(`applied ${n} VIPs: ${(performance.now() - t0).toFixed(0)} ms wall, ${((cpu.user + cpu.system) / 1000).toFixed(0)} ms CPU`);
  row(`${n} VIPs applied`);
  const native = trim ? loadNative<{ trim(): boolean }>('malloctrim') : undefined;
  if (trim && !native) throw new Error('--trim: native/malloctrim not built');
  if (native) timedTrim(native);
  for (let i = 0; i < scrapes; i++) await registry.metrics();
  if (args.includes('--metrics-sizes')) printMetricsSizes(await registry.metrics());
  if (args.includes('--scrape-alloc')) await scrapeAlloc(() => registry.metrics());
  if (args.includes('--scrape-profile')) await scrapeProfile(() => registry.metrics());
  if (args.includes('--read-alloc')) {
    const h = gets.get('/net/v1/metrics');
    if (!h) throw new Error('--read-alloc: no /net/v1/metrics route');
    await scrapeAlloc(async () => JSON.stringify((await h()).json), 'one GET /net/v1/metrics (JSON included)');
  }
  if (args.includes('--read-profile')) {
    const h = gets.get('/net/v1/metrics')!;
    await scrapeProfile(async () => JSON.stringify((await h()).json));
  }
  row(`after ${scrapes} scrapes`);
  if (native) timedTrim(native);
  // Single changes through deltas, as the agent gets them: a backend's weight flipped, a VIP (and its
  // name) added, then removed. The CPU of folding each in and applying it, median per kind.
  const cpuOf = async (u: WireUpdate): Promise<number> => {
    const c0 = process.cpuUsage();
    view.apply(u);
    await apply();
    const c = process.cpuUsage(c0);
    return (c.user + c.system) / 1000;
  };
  const delta = (parts: WireUpdate['parts']): WireUpdate => ({ history: 'h1', version: view.version + 1, full: false, from_version: view.version, overlay: '', parts });
  const per: Record<string, number[]> = { weight: [], add: [], remove: [] };
  for (let k = 0; k < changes; k++) {
    const snap = view.snapshot().parts.vips;
    const v = structuredClone(snap[(k * 37) % snap.length]!);
    v.backends[0]!.weight = v.backends[0]!.weight ? 0 : 1;
    per.weight!.push(await cpuOf(delta([{ part: 'vips', upserts: [canonicalJson(v)], removes: [] }])));
    const ip = `11.1.${k >> 8}.${k & 255}`;
    const dns = vipDnsName(`extra${k}`, 'marathon');
    const extra: Vip = { key: `tcp/${ip}:80`, name: `/extra${k}`, framework: 'marathon', dns_name: dns, ip, port: 80, protocol: 'tcp', backends: [{ ip: WORKER_IP, port: 30000, weight: 1, task_id: `extra${k}.instance-x._app.1`, agent_id: WORKER_ID }] };
    const zone: ZoneRecord = { key: `${dns}/A/${ip}`, name: dns, type: 'A', data: ip };
    per.add!.push(await cpuOf(delta([{ part: 'vips', upserts: [canonicalJson(extra)], removes: [] }, { part: 'zones', upserts: [canonicalJson(zone)], removes: [] }])));
    per.remove!.push(await cpuOf(delta([{ part: 'vips', upserts: [], removes: [extra.key] }, { part: 'zones', upserts: [], removes: [zone.key] }])));
  }
  const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
  const skip = Math.floor(changes / 3); // the first third warms up (compilation)
  if (changes) console.log(`CPU per change (median of the last ${changes - skip}): weight ${med(per.weight!.slice(skip)).toFixed(2)} ms, add ${med(per.add!.slice(skip)).toFixed(2)} ms, remove ${med(per.remove!.slice(skip)).toFixed(2)} ms`);
  if (changes) row(`after ${changes} changes`);
  if (snapshotFile) console.log(`heap snapshot: ${writeHeapSnapshot(snapshotFile)}`);
  for (const c of comps) await c.stop();
  rmSync(workDir, { recursive: true, force: true });
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(e);
    process.exit(1);
  },
);
