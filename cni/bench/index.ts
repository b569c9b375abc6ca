/**
 * ADD and DEL latency of `sextant-cni` against the standard `bridge` + `host-local` plugins,
 * side by side on the same conflist (the one the agent writes). Each plugin runs as a process
 * under `ip netns exec <host-ns>` (the same wrapper for both), one task namespace per ADD;
 * namespaces are made outside the timed section. Bounded: ROUNDS attachments per plugin.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createNetns, requireNetns, requireTools, uniqueName, type Netns } from '../../test/lib/index.js';
import { pluginBinDir } from '../test/bundle.js';
import { tempDir } from '../test/helpers.js';
import { CniRuntime, type Conflist } from '../runtime.js';
import { buildConflist } from '../conflist.js';
import { writeWrapper } from '../wrapper.js';

const ROUNDS = Number(process.env.CNI_BENCH_ROUNDS ?? 30);

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
}

async function timeIt(fn: () => Promise<unknown>): Promise<number> {
  const t0 = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

function run(cmd: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: 'ignore' });
    p.on('error', reject);
    p.on('close', (c) => (c === 0 ? resolve() : reject(new Error(`${cmd} exited ${c}`))));
  });
}

interface Row {
  name: string;
  add: number[];
  del: number[];
}

async function measure(name: string, runtime: CniRuntime, list: Conflist, tasks: Netns[]): Promise<Row> {
  const row: Row = { name, add: [], del: [] };
  // One warm-up attachment (creates the bridge), not counted.
  const warm = { containerId: uniqueName('w'), netns: `/run/netns/${tasks[0]!.name}`, ifname: 'eth1' };
  await runtime.add(list, warm);
  await runtime.del(list, warm);
  for (const ns of tasks) {
    const a = { containerId: uniqueName('b'), netns: `/run/netns/${ns.name}`, ifname: 'eth0' };
    row.add.push(await timeIt(() => runtime.add(list, a)));
    row.del.push(await timeIt(() => runtime.del(list, a)));
  }
  return row;
}

export async function bench(): Promise<string> {
  requireNetns();
  requireTools('ip', 'nft', '/usr/lib/cni/bridge', '/usr/lib/cni/host-local');
  const cleanups: (() => unknown)[] = [];
  const t = { teardown: (fn: () => unknown) => cleanups.push(fn) };
  try {
    const { binDir } = await pluginBinDir(t);
    const host = await createNetns(t, 'h');
    const tasks: Netns[] = [];
    for (let i = 0; i < ROUNDS; i++) tasks.push(await createNetns(t, 't'));
    const wrap = ['ip', 'netns', 'exec', host.name];
    const rows: Row[] = [];
    const spec = { subnet: '10.237.0.0/24', mtu: 1420, dataDir: await tempDir(t) };
    const cache = await tempDir(t);
    const std = new CniRuntime({ binDirs: ['/usr/lib/cni'], cacheDir: cache, wrap });
    const ours = new CniRuntime({ binDirs: [binDir], cacheDir: cache, wrap });
    const stdList = buildConflist({ ...spec, name: 'benchstd', plugins: 'standard' });
    stdList.plugins = stdList.plugins.slice(0, 1); // bridge + host-local alone, no port-mapping plugin
    rows.push(await measure('bridge + host-local (Go, /usr/lib/cni)', std, stdList, tasks));
    rows.push(await measure('sextant-cni (bundled, one file)', ours, buildConflist({ ...spec, name: 'benchsx', plugins: 'sextant' }), tasks));
    const dist = join(process.cwd(), 'dist', 'cni', 'main.js');
    if (existsSync(dist)) {
      const distBin = await tempDir(t, 'cnidist');
      await writeWrapper(distBin, dist);
      rows.push(await measure('sextant-cni (tsc output, dist/cni/main.js)', new CniRuntime({ binDirs: [distBin], cacheDir: cache, wrap }), buildConflist({ ...spec, name: 'benchsd', plugins: 'sextant' }), tasks));
    }
    const base: number[] = [];
    for (let i = 0; i < 10; i++) base.push(await timeIt(() => run('ip', ['netns', 'exec', host.name, 'true'])));
    const nodeBase: number[] = [];
    for (let i = 0; i < 10; i++) nodeBase.push(await timeIt(() => run(process.execPath, ['-e', '0'])));
    const ref = rows[0]!;
    const f = (n: number) => n.toFixed(1);
    const lines = [
      `${ROUNDS} sequential ADD then DEL per plugin, each into a fresh namespace, plugin run as a process under \`ip netns exec\`.`,
      '',
      '| plugin | ADD p50 ms | ADD p99 ms | DEL p50 ms | DEL p99 ms | ADD p50 vs bridge | DEL p50 vs bridge |',
      '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
      ...rows.map((r) => `| ${r.name} | ${f(pct(r.add, 50))} | ${f(pct(r.add, 99))} | ${f(pct(r.del, 50))} | ${f(pct(r.del, 99))} | ${(pct(r.add, 50) / pct(ref.add, 50)).toFixed(2)}x | ${(pct(r.del, 50) / pct(ref.del, 50)).toFixed(2)}x |`),
      '',
      `Baselines on this machine: \`ip netns exec <ns> true\` p50 ${f(pct(base, 50))} ms; \`node -e 0\` p50 ${f(pct(nodeBase, 50))} ms (Node start-up alone).`,
      `Target: ADD p50 < 100 ms including Node start-up.`,
    ];
    return lines.join('\n');
  } finally {
    for (const c of cleanups.reverse()) await c();
  }
}
