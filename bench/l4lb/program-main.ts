/**
 * The nftables driver programming N VIPs in a process of its own, as the agent holds it:
 * `node bench/l4lb/program-main.js '<json>'` with `{ netns, n, session, netlink, svcData, as }`. Prints one JSON line:
 * wall and CPU times from empty, per change (weight flip, VIP added, VIP removed; median of 5 each),
 * the full reconcile (last), and the process's memory (RSS at the end and its peak, VmHWM) at N VIPs.
 */
import { readFileSync } from 'node:fs';
import type { Service } from '../../l4lb/driver.js';
import { NftablesDriver } from '../../l4lb/nft/driver.js';
import { createLogger } from '../../common/log.js';
import { median } from '../lib/stats.js';
import { makeServices } from './services.js';

const cfg = JSON.parse(process.argv[2] ?? '{}') as {
  netns: string;
  n: number;
  session: boolean;
  netlink?: boolean;
  /** What the service maps hold (NftablesDriverOptions.svcData); default: the driver's ('count' here). */
  svcData?: 'count' | 'verdict';
  /** 'heap': the agent's heap setting (agent/heap.ts); 'agent': that, and every module the agent process loads (cli/plugins.ts). */
  as?: 'heap' | 'agent';
};
if (cfg.as) {
  const { limitYoungGeneration } = await import('../../agent/index.js');
  // The agent sets it at the start of its main, after its modules are loaded: the same order here.
  if (cfg.as === 'agent') await import('../../cli/plugins.js');
  limitYoungGeneration();
}

/** CPU seconds of this process and of its reaped children (nft, nsenter). */
function cpu(): { self: number; children: number } {
  const u = process.cpuUsage();
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { self: (u.user + u.system) / 1e6, children: (Number(f[13]) + Number(f[14])) / 100 };
}

/** utime + stime of a running process, in clock ticks (1/100 s). */
function ticks(pid: number | undefined): number {
  if (pid === undefined) return 0;
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(f[11]) + Number(f[12]);
}

function memoryMiB(): { rss: number; peak: number } {
  const status = readFileSync('/proc/self/status', 'utf8');
  const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { rss: kb('VmRSS') / 1024, peak: kb('VmHWM') / 1024 };
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

const d = new NftablesDriver({ prefix: ['nsenter', `--net=/run/netns/${cfg.netns}`], session: cfg.session, netlink: cfg.netlink ?? false, svcData: cfg.svcData, log: createLogger('l4lb-bench') });
await d.start();
const svcs = makeServices(cfg.n);
const c0 = cpu();
const full = await timed(() => d.apply(svcs));
await d.stop(); // a from-empty small enough for the session: its nft exits and its CPU is counted here
const c1 = cpu();

// One change at a time, as the reconciler passes them: the whole desired state, sorted (the
// states are built before the clock starts, so the CPU per change is the driver's).
const extra = makeServices(5, 12);
const states: { kind: 'weight' | 'add' | 'del'; desired: Service[] }[] = [];
let current: Service[] = svcs;
for (let k = 0; k < 5; k++) {
  const i = 17 + k * 101;
  current = current.map((s, j) => (j === i ? { ...s, backends: s.backends.map((b, n) => (n === 1 ? { ...b, weight: b.weight ? 0 : 1 } : b)) } : s));
  states.push({ kind: 'weight', desired: current });
  const withExtra = [...current, extra[k]!].sort((a, b) => (a.key < b.key ? -1 : 1));
  states.push({ kind: 'add', desired: withExtra });
  states.push({ kind: 'del', desired: current });
}
const times = { weight: [] as number[], add: [] as number[], del: [] as number[] };
const before = d.sessionProcesses;
// The first change starts the session: nft fills its cache (the table's elements included) once.
const firstState = states.shift()!;
const first = await timed(() => d.apply(firstState.desired));
times[firstState.kind].push(first);
const pid = d.sessionPid;
const nft0 = ticks(pid);
const self: number[] = [];
const c2 = cpu();
for (const st of states) {
  const u = process.cpuUsage();
  times[st.kind].push(await timed(() => d.apply(st.desired)));
  const du = process.cpuUsage(u);
  self.push((du.user + du.system) / 1e6);
}
const nftCpu = pid === undefined ? undefined : (ticks(pid) - nft0) / 100;
const processes = d.sessionProcesses - before;
await d.stop(); // the session's nft exits and is reaped: its CPU counts as a child's from here
const c3 = cpu();
// Last: its garbage (a 3 MB listing, 70,000 elements each side) is not charged to the changes.
const reconcile = await timed(() => d.reconcile(svcs));
await d.stop();
const changes = states.length;
console.log(
  JSON.stringify({
    full,
    fullCpu: { self: c1.self - c0.self, children: c1.children - c0.children },
    weight: median(times.weight),
    add: median(times.add),
    del: median(times.del),
    // Node: the median change (the mean carries the first changes' compilation and any GC of the
    // from-empty garbage); nft: the session process's CPU over all changes, divided by their count.
    changeCpu: { self: median(self), selfMean: (c3.self - c2.self) / changes, children: (nftCpu ?? c3.children - c2.children) / changes },
    first,
    reconcile,
    processes,
    netlink: d.netlinkUnavailable ?? (cfg.netlink ? 'used' : 'off'),
    svcData: d.svcData,
    memory: memoryMiB(),
  }),
);
process.exit(0);
