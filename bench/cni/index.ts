/**
 * ADD and DEL latency of `sextant-cni` against the standard `bridge` + `host-local` plugins,
 * side by side on the same conflist (the one the agent writes). Each plugin runs as a process
 * under `ip netns exec <host-ns>` (the same wrapper for both), one task namespace per ADD;
 * namespaces are made outside the timed section. Bounded: ROUNDS attachments per plugin.
 * Besides wall time (which a loaded machine inflates) it reports CPU time per ADD: the plugin's
 * and its children's user+system time, from this process's reaped-children counters.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { createNetns, requireNetns, requireTools, uniqueName, type Netns } from '../../test/lib/index.js';
import { pluginBinDir } from '../../cni/test/bundle.js';
import { tempDir } from '../../cni/test/helpers.js';
import { CniRuntime, type Conflist } from '../../cni/runtime.js';
import { buildConflist } from '../../cni/conflist.js';
import { writeWrapper } from '../../cni/wrapper.js';
import { percentile } from '../lib/stats.js';

const ROUNDS = Number(process.env.CNI_BENCH_ROUNDS ?? 30);
const TICK_MS = 10; // USER_HZ 100: /proc/<pid>/stat counts CPU time in 1/100 s

const pct = percentile;

/** CPU ms used so far by reaped children (and theirs): cutime + cstime of /proc/self/stat. */
function childCpuMs(): number {
  const fields = readFileSync('/proc/self/stat', 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[13]) + Number(fields[14])) * TICK_MS;
}

async function timeIt(fn: () => Promise<unknown>): Promise<number> {
  const t0 = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

/** Run with the environment a CNI runtime gives plugins (PATH only): this process's may hold
 * e.g. NODE_EXTRA_CA_CERTS, which alone costs Node ~35 ms of start-up parsing certificates. */
function run(cmd: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: 'ignore', env: { PATH: process.env.PATH } });
    p.on('error', reject);
    p.on('close', (c) => (c === 0 ? resolve() : reject(new Error(`${cmd} exited ${c}`))));
  });
}

interface Row {
  name: string;
  add: number[];
  del: number[];
  /** Mean CPU ms per ADD, plugin and children. */
  addCpu: number;
}

async function measure(name: string, runtime: CniRuntime, list: Conflist, tasks: Netns[]): Promise<Row> {
  const row: Row = { name, add: [], del: [], addCpu: 0 };
  // One warm-up attachment (creates the bridge), not counted.
  const warm = { containerId: uniqueName('w'), netns: `/run/netns/${tasks[0]!.name}`, ifname: 'eth1' };
  await runtime.add(list, warm);
  await runtime.del(list, warm);
  let cpu = 0;
  for (const ns of tasks) {
    const a = { containerId: uniqueName('b'), netns: `/run/netns/${ns.name}`, ifname: 'eth0' };
    const c0 = childCpuMs();
    row.add.push(await timeIt(() => runtime.add(list, a)));
    cpu += childCpuMs() - c0;
    row.del.push(await timeIt(() => runtime.del(list, a)));
  }
  row.addCpu = cpu / tasks.length;
  return row;
}

/** A bin dir whose `sextant-cni` runs `main` (a bundle or tsc's output). */
async function binFor(t: { teardown(fn: () => unknown): void }, main: string): Promise<string> {
  const dir = await tempDir(t, 'cnibin');
  await writeWrapper(dir, main);
  return dir;
}

export async function bench(): Promise<string> {
  requireNetns();
  requireTools('ip', 'nft', '/usr/lib/cni/bridge', '/usr/lib/cni/host-local');
  const cleanups: (() => unknown)[] = [];
  const t = { teardown: (fn: () => unknown) => cleanups.push(fn) };
  try {
    const load0 = loadavg();
    // The bundle as `npm run build` makes it (scripts/bundle-cni.mjs), built afresh from source.
    const { binDir } = await pluginBinDir(t);
    const host = await createNetns(t, 'h');
    const tasks: Netns[] = [];
    for (let i = 0; i < ROUNDS; i++) tasks.push(await createNetns(t, 't'));
    const netns = host.name;
    const rows: Row[] = [];
    const spec = { subnet: '10.237.0.0/24', mtu: 1420, dataDir: await tempDir(t) };
    const cache = await tempDir(t);
    const std = new CniRuntime({ binDirs: ['/usr/lib/cni'], cacheDir: cache, netns });
    const ours = new CniRuntime({ binDirs: [binDir], cacheDir: cache, netns });
    const stdList = buildConflist({ ...spec, name: 'benchstd', plugins: 'standard' });
    stdList.plugins = stdList.plugins.slice(0, 1); // bridge + host-local alone, no port-mapping plugin
    rows.push(await measure('bridge + host-local (Go, /usr/lib/cni)', std, stdList, tasks));
    rows.push(await measure('sextant-cni (one-file bundle, sextant-cni.cjs)', ours, buildConflist({ ...spec, name: 'benchsx', plugins: 'sextant' }), tasks));
    const dist = join(process.cwd(), 'dist', 'cni', 'main.js');
    if (existsSync(dist)) {
      const runtime = new CniRuntime({ binDirs: [await binFor(t, dist)], cacheDir: cache, netns });
      rows.push(await measure('sextant-cni (tsc output, dist/cni/main.js, ESM)', runtime, buildConflist({ ...spec, name: 'benchsd', plugins: 'sextant' }), tasks));
    }
    const base: number[] = [];
    for (let i = 0; i < 10; i++) base.push(await timeIt(() => run('ip', ['netns', 'exec', host.name, 'true'])));
    const nodeBase: number[] = [];
    const n0 = childCpuMs();
    for (let i = 0; i < 10; i++) nodeBase.push(await timeIt(() => run(process.execPath, ['-e', '0'])));
    const nodeCpu = (childCpuMs() - n0) / 10;
    const load1 = loadavg();
    const ref = rows[0]!;
    const f = (n: number) => n.toFixed(1);
    const lines = [
      `${ROUNDS} sequential ADD then DEL per plugin, each into a fresh namespace, plugin run as a process under \`ip netns exec\` (as the agent runs it, through the \`sextant-cni\` shell wrapper).`,
      '',
      '| plugin | ADD p50 ms | ADD p99 ms | DEL p50 ms | DEL p99 ms | ADD CPU ms (mean) | ADD p50 vs bridge | DEL p50 vs bridge |',
      '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
      ...rows.map(
        (r) =>
          `| ${r.name} | ${f(pct(r.add, 50))} | ${f(pct(r.add, 99))} | ${f(pct(r.del, 50))} | ${f(pct(r.del, 99))} | ${f(r.addCpu)} | ${(pct(r.add, 50) / pct(ref.add, 50)).toFixed(2)}x | ${(pct(r.del, 50) / pct(ref.del, 50)).toFixed(2)}x |`,
      ),
      '',
      `Baselines on this machine: \`ip netns exec <ns> true\` p50 ${f(pct(base, 50))} ms; \`node -e 0\` p50 ${f(pct(nodeBase, 50))} ms wall, ${f(nodeCpu)} ms CPU (Node start-up alone, environment PATH only as the plugin gets it).`,
      `Load average (1, 5, 15 min) at start: ${load0.map((x) => x.toFixed(2)).join(', ')}; at end: ${load1.map((x) => x.toFixed(2)).join(', ')} (2 cores). Wall times grow with load; CPU times much less.`,
      `Target: ADD p50 < 100 ms including Node start-up.`,
    ];
    return lines.join('\n');
  } finally {
    for (const c of cleanups.reverse()) await c();
  }
}
