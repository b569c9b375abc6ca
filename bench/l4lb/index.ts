/**
 * l4lb benchmarks: programming 1,000 and 10,000 VIPs x 3 backends from empty and one change on top
 * (nftables vs a kube-proxy-style chain-per-service baseline, and the userspace proxy), then
 * throughput through a VIP vs direct with iperf3 in namespaces. Everything bounded in time.
 */
import { execFileSync } from 'node:child_process';
import { loadavg } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { Service } from '../../l4lb/driver.js';
import { nftRunner } from '../../l4lb/nft/exec.js';
import { baselineChange, baselineFull } from './baseline.js';
import { cpuSeconds, median, runAsync } from './procs.js';
import { siblingArgv } from '../../common/sibling.js';
import { measuredSteal, stealNote } from '../lib/steal.js';
import { currentPage, keptSections } from '../lib/sections.js';
import { makeServices } from './services.js';
import { programUserspace, throughput } from './traffic.js';


export const runTag = randomBytes(2).toString('hex');

export { makeServices } from './services.js';

export async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const t0 = performance.now();
  const value = await fn();
  return { ms: performance.now() - t0, value };
}

export const fmt = (ms: number) => (ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(1)} ms`);

export async function withNetns<T>(fn: (name: string) => Promise<T>): Promise<T> {
  const name = `sxb${runTag}${randomBytes(2).toString('hex')}`;
  execFileSync('ip', ['netns', 'add', name]);
  try {
    return await fn(name);
  } finally {
    execFileSync('ip', ['netns', 'del', name]);
  }
}

/** One change: flip one backend's weight, five times; the median wall time and the mean CPU time. */
async function changes(apply: (s: Service[], i: number) => Promise<unknown>, svcs: Service[]): Promise<{ ms: number; cpu: Cpu }> {
  const times: number[] = [];
  const c0 = cpuSeconds();
  for (let k = 0; k < 5; k++) {
    const i = 17 + k * 101;
    svcs[i]!.backends[1]!.weight = svcs[i]!.backends[1]!.weight ? 0 : 1;
    times.push((await timed(() => apply(svcs, i))).ms);
  }
  const c = cpuSince(c0);
  return { ms: median(times), cpu: { self: c.self / 5, children: c.children / 5 } };
}

interface Cpu {
  self: number;
  children: number;
}

function cpuSince(c0: Cpu): Cpu {
  const c = cpuSeconds();
  return { self: c.self - c0.self, children: c.children - c0.children };
}

const fmtCpu = (c: Cpu) => `${fmt(c.self * 1000)} + ${fmt(c.children * 1000)}`;

/** `nsenter --net` rather than `ip netns exec` (which also remounts /sys): closest to nft run on the host. */
const inNetns = (ns: string) => ['nsenter', `--net=/run/netns/${ns}`];

interface NftRow {
  full: number;
  fullCpu: Cpu;
  weight: number;
  add: number;
  del: number;
  changeCpu: Cpu & { selfMean: number };
  first: number;
  reconcile: number;
  processes: number;
  memory: { rss: number; peak: number };
  /** 'used', 'off', or why netlink could not be used. */
  netlink?: string;
  /** What the service maps held: 'count' (the slot-count encoding) or 'verdict'. */
  svcData?: string;
}

const PROGRAM_MAIN = siblingArgv(import.meta.url, 'program-main');

/** The driver in a process of its own (as the agent holds it), so its memory is its own; `as`: with the agent's heap setting, or in a process holding the agent's modules too. */
async function nftRow(n: number, session: boolean, netlink: boolean, as?: 'heap' | 'agent', svcData: 'count' | 'verdict' = 'count'): Promise<NftRow & { steal: number }> {
  return withNetns(async (ns) => {
    const { value, steal } = await measuredSteal(() => runAsync([process.execPath, ...PROGRAM_MAIN, JSON.stringify({ netns: ns, n, session, netlink, svcData, ...(as ? { as } : {}) })], 600_000));
    const row = JSON.parse(value.trim().split('\n').at(-1)!) as NftRow;
    if (netlink && row.netlink !== 'used') throw new Error(`the netlink row ran without netlink: ${row.netlink}`);
    if (row.svcData !== svcData) throw new Error(`the row asked for the ${svcData} encoding ran with ${row.svcData}`);
    return { ...row, steal };
  });
}

async function baselineRow(n: number, limitMs: number): Promise<{ full: number | undefined; change: number | undefined }> {
  return withNetns(async (ns) => {
    const run = nftRunner({ prefix: inNetns(ns), timeoutMs: limitMs });
    const svcs = makeServices(n);
    let full: number | undefined;
    try {
      full = (await timed(() => run(['-f', '-'], baselineFull('kp', svcs)))).ms;
    } catch {
      return { full: undefined, change: undefined };
    }
    const change = (await changes((s, i) => run(['-f', '-'], baselineChange('kp', s[i]!, i)), svcs)).ms;
    return { full, change };
  });
}

/** Bench parts, all by default; `L4LB_BENCH=program,agent,traffic,ipvs` (comma-separated) runs only some. */
export const PARTS = ['program', 'agent', 'traffic', 'ipvs'] as const;

function parts(): Set<string> {
  const env = process.env.L4LB_BENCH?.trim();
  if (!env) return new Set(PARTS);
  const want = env.split(',').map((p) => p.trim());
  const bad = want.filter((p) => !(PARTS as readonly string[]).includes(p));
  if (bad.length) throw new Error(`L4LB_BENCH: unknown part(s) ${bad.join(', ')} (known: ${PARTS.join(', ')})`);
  return new Set(want);
}

async function programming(): Promise<string[]> {
  const out: string[] = ['## Programming VIPs (3 backends each)', ''];
  out.push(
    '| VIPs | driver | from empty | CPU: Node + nft | one change: weight / VIP added / VIP removed (median of 5 each) | CPU per change: Node + nft | full reconcile (dump + diff) | memory of the driver\'s process: RSS / peak |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
  );
  const ratios: string[] = [];
  const steals: number[] = [];
  const changeCell = (r: NftRow) => `${fmt(r.weight)} / ${fmt(r.add)} / ${fmt(r.del)}`;
  for (const n of [1000, 10000]) {
    const nl = await nftRow(n, true, true);
    // The same, with the verdict encoding (svc4/svc6 map to `goto pick<n>`: every VIP added or slot count changed adds a verdict element, and the kernel validates the table at commit).
    const verdict = await nftRow(n, true, true, undefined, 'verdict');
    const nft = await nftRow(n, true, false);
    const oneShot = await nftRow(n, false, false);
    // The same driver with the agent's heap setting (agent/heap.ts: the young generation does not grow), alone and beside every module the agent loads.
    const heap = n >= 10000 ? await nftRow(n, true, true, 'heap') : undefined;
    const agent = n >= 10000 ? await nftRow(n, true, true, 'agent') : undefined;
    steals.push(nl.steal, verdict.steal, nft.steal, oneShot.steal, ...(heap && agent ? [heap.steal, agent.steal] : []));
    const rows = [
      ['nftables (maps, this driver: elements over netlink, slot counts in data maps: the default)', nl],
      ['nftables (as the row above, but `goto pick<n>` verdict elements in svc4/svc6: the encoding before session 18)', verdict],
      ...(heap && agent
        ? ([
            ['nftables (as the row above, with the agent\'s heap setting `--semi-space-growth-factor=1`, agent/heap.ts)', heap],
            ['nftables (as the row above, in a process that also loads every module of the agent: `cli/plugins.ts`)', agent],
          ] as const)
        : []),
      ['nftables (maps, this driver, netlink off: one `nft -i` session for changes)', nft],
      ['nftables (maps, this driver, netlink and session off: one `nft -f` per change)', oneShot],
    ] as const;
    for (const [name, r] of rows)
      out.push(`| ${n} | ${name} | ${fmt(r.full)} | ${fmtCpu(r.fullCpu)} | ${changeCell(r)} | ${fmtCpu(r.changeCpu)} (Node mean ${fmt(r.changeCpu.selfMean * 1000)}) | ${fmt(r.reconcile)} | ${r.memory.rss.toFixed(0)} / ${r.memory.peak.toFixed(0)} MiB |`);
    const base = await baselineRow(n, 180_000);
    out.push(`| ${n} | chain per service (kube-proxy style baseline) | ${base.full === undefined ? '> 180 s (stopped)' : fmt(base.full)} | - | ${base.change === undefined ? '-' : `${fmt(base.change)} (weight)`} | - | - | - |`);
    if (base.full !== undefined && base.change !== undefined)
      ratios.push(
        `- ${n} VIPs: netlink from empty ${(base.full / nl.full).toFixed(1)}x faster than the baseline, one weight change ${(base.change / nl.weight).toFixed(1)}x faster; vs the text session: from empty ${(nft.full / nl.full).toFixed(1)}x, CPU (Node + nft) ${((nft.fullCpu.self + nft.fullCpu.children) / (nl.fullCpu.self + nl.fullCpu.children)).toFixed(1)}x less, reconcile ${(nft.reconcile / nl.reconcile).toFixed(1)}x faster; the session's first change (it starts \`nft -i\`, whose cache fill reads the table) took ${fmt(nft.first)}, the next 14 went to the same process`,
      );
    const us = await programUserspace(Math.min(n, 2000));
    out.push(`| ${Math.min(n, 2000)} | userspace (one listening socket per VIP) | ${fmt(us.full)} | - | ${fmt(us.change)} | - | - | - |`);
  }
  out.push('', ...ratios, `- CPU steal during the nftables rows: ${stealNote(steals)}.`, '');
  out.push(
    'Targets (issue 26): nftables 10,000 VIPs x 3 backends under 0.3 s from empty, under 5 ms per single-VIP change (weight, add, remove), the driver\'s process under 100 MB at 10,000 VIPs (issue 6: under 2 s and 50 ms).',
    'The nftables rows run the driver in a process of its own (`bench/l4lb/program-main.ts`, as the agent holds it: its memory is the driver\'s and Node\'s, nothing of the bench); the desired state is the whole sorted list each time, as the reconciler passes it.',
    'The netlink rows: nft creates the table\'s skeleton from text once; every element write is one nfnetlink batch (NEWSETELEM/DELSETELEM) encoded straight from the services (l4lb/nft/encode.ts, no element text) and sent from the driver\'s process through native/nfnetlink.c; reconcile reads the elements back with GETSETELEM dumps and diffs them as bytes (l4lb/nft/bytes-diff.ts), the skeleton from `nft -j -t list ruleset`. The kernel\'s work on a batch runs inside the driver\'s sendmsg, so it counts as the driver\'s (Node) CPU there; in the text rows it counts as nft\'s.',
    'Wall times depend on the machine load (see the load lines and steal); the CPU columns less so: Node CPU of the driver\'s process, plus CPU of the `nft` (and `nsenter`) children in 10 ms ticks; per change: Node CPU of the median change (the mean, beside it, also carries the first changes\' compilation and garbage collection left from programming from empty), nft CPU over the changes divided by their count (for the session: its `nft` process over the 14 changes after the first, read from /proc). Memory: RSS after the changes and the reconcile, and the peak (VmHWM); the driver itself keeps about 8 MB of heap at 10,000 VIPs (17 MB live after a full collection, the 10,000 services included), the rest is Node (about 60 MB before the first VIP) and V8\'s young generation, grown to its 16 MiB semi-spaces by the garbage of building the services and programming them unless the agent\'s heap setting keeps it at its size (the rows with it).',
    'A one-shot change ends when `nft` exits; the kernel has committed it earlier: closing nft\'s netlink socket after a commit waits for an RCU grace period (7-15 ms measured with strace, idle CPU). The session keeps its socket open and answers as soon as the batch is committed.',
    'The userspace row is capped at 2,000 VIPs: each VIP is a listening socket (file descriptors).',
    '',
  );
  return out;
}

/** Each part's `## ` headings on the page, so a run of some parts keeps the others' sections. */
const HEADINGS: Record<(typeof PARTS)[number], string[]> = {
  program: ['Programming VIPs'],
  agent: ['The agent process'],
  traffic: ['Throughput through a VIP', 'Connection rate through a VIP', 'Traffic through a VIP'],
  ipvs: ['IPVS'],
};

export async function bench(): Promise<string> {
  const want = parts();
  const old = want.size < PARTS.length ? currentPage('l4lb') : '';
  const out: string[] = [`Load when started: \`${loadavg().map((l) => l.toFixed(2)).join(' ')}\` (1, 5, 15 min; 2 cores shared with other work).`, ''];
  const skipped = PARTS.filter((p) => !want.has(p));
  if (skipped.length) {
    const was = (re: RegExp) => re.exec(old)?.[1] ?? 'unknown';
    out.push(
      `This run measured ${[...want].join(', ')} only (\`L4LB_BENCH\`); the ${skipped.join(' and ')} sections are kept from the previous page (${was(/^Date: (.*)$/m)}, load when started \`${was(/^Load when started: `([^`]*)`/m)}\`).`,
      '',
    );
  }
  const keep = (p: (typeof PARTS)[number]) => {
    if (!want.has(p)) out.push(...keptSections(old, HEADINGS[p]));
  };
  // A part that fails is reported in the page, so the figures of the other parts are kept.
  const part = async (name: string, fn: () => Promise<string[]>) => {
    try {
      out.push(...(await fn()));
    } catch (e) {
      out.push(`## ${name}`, '', `Failed: ${(e as Error).message}`, '');
    }
  };
  if (want.has('program')) await part('Programming VIPs', programming);
  keep('program');
  if (want.has('agent')) await part('The agent process', async () => (await import('./agent.js')).agentProcess());
  keep('agent');
  if (want.has('traffic')) await part('Traffic through a VIP vs direct', throughput);
  keep('traffic');
  // IPVS runs inside a User-Mode-Linux kernel (the host kernel has no IPVS).
  if (want.has('ipvs')) {
    const { benchIpvs } = await import('./ipvs.js');
    out.push('', await benchIpvs());
  }
  keep('ipvs');
  out.push('', `Load when finished: \`${loadavg().map((l) => l.toFixed(2)).join(' ')}\`.`);
  return out.join('\n');
}
