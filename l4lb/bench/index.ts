/**
 * l4lb benchmarks: programming 1,000 and 10,000 VIPs x 3 backends from empty and one change on top
 * (nftables vs a kube-proxy-style chain-per-service baseline, and the userspace proxy), then
 * throughput through a VIP vs direct with iperf3 in namespaces. Everything bounded in time.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import type { Service } from '../driver.js';
import { NftablesDriver } from '../nft/driver.js';
import { nftRunner } from '../nft/exec.js';
import { baselineChange, baselineFull } from './baseline.js';
import { programUserspace, throughput } from './traffic.js';

export const runTag = randomBytes(2).toString('hex');

export function makeServices(n: number): Service[] {
  return Array.from({ length: n }, (_, i) => ({
    key: `tcp/11.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}:80`,
    vip: `11.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`,
    port: 80,
    protocol: 'tcp' as const,
    backends: [0, 1, 2].map((b) => ({ ip: `10.${b}.${(i >> 8) & 255}.${i & 255}`, port: 8080, weight: 1 })),
  }));
}

export async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const t0 = performance.now();
  const value = await fn();
  return { ms: performance.now() - t0, value };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
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

/** One change: flip one backend's weight, five times; the median. */
async function changes(apply: (s: Service[], i: number) => Promise<unknown>, svcs: Service[]): Promise<number> {
  const times: number[] = [];
  for (let k = 0; k < 5; k++) {
    const i = 17 + k * 101;
    svcs[i]!.backends[1]!.weight = svcs[i]!.backends[1]!.weight ? 0 : 1;
    times.push((await timed(() => apply(svcs, i))).ms);
  }
  return median(times);
}

async function nftRow(n: number): Promise<{ full: number; change: number; reconcile: number }> {
  return withNetns(async (ns) => {
    const d = new NftablesDriver({ netns: ns });
    await d.start();
    const svcs = makeServices(n);
    const full = (await timed(() => d.apply(svcs))).ms;
    const change = await changes((s) => d.apply(s), svcs);
    const reconcile = (await timed(() => d.reconcile(svcs))).ms;
    return { full, change, reconcile };
  });
}

async function baselineRow(n: number, limitMs: number): Promise<{ full: number | undefined; change: number | undefined }> {
  return withNetns(async (ns) => {
    const run = nftRunner({ netns: ns, timeoutMs: limitMs });
    const svcs = makeServices(n);
    let full: number | undefined;
    try {
      full = (await timed(() => run(['-f', '-'], baselineFull('kp', svcs)))).ms;
    } catch {
      return { full: undefined, change: undefined };
    }
    const change = await changes((s, i) => run(['-f', '-'], baselineChange('kp', s[i]!, i)), svcs);
    return { full, change };
  });
}

export async function bench(): Promise<string> {
  const out: string[] = ['## Programming VIPs (3 backends each)', ''];
  out.push('| VIPs | driver | from empty | one change (median of 5) | full reconcile (dump + diff) |', '| --- | --- | --- | --- | --- |');
  const ratios: string[] = [];
  for (const n of [1000, 10000]) {
    const nft = await nftRow(n);
    out.push(`| ${n} | nftables (maps, this driver) | ${fmt(nft.full)} | ${fmt(nft.change)} | ${fmt(nft.reconcile)} |`);
    const base = await baselineRow(n, 180_000);
    out.push(`| ${n} | chain per service (kube-proxy style baseline) | ${base.full === undefined ? '> 180 s (stopped)' : fmt(base.full)} | ${base.change === undefined ? '-' : fmt(base.change)} | - |`);
    if (base.full !== undefined && base.change !== undefined)
      ratios.push(`- ${n} VIPs: from empty ${(base.full / nft.full).toFixed(1)}x faster than the baseline, one change ${(base.change / nft.change).toFixed(1)}x faster`);
    const us = await programUserspace(Math.min(n, 2000));
    out.push(`| ${Math.min(n, 2000)} | userspace (one listening socket per VIP) | ${fmt(us.full)} | ${fmt(us.change)} | - |`);
  }
  out.push('', ...ratios, '', 'Targets (issue 6): nftables 10,000 VIPs under 2 s from empty, under 50 ms per single change.');
  out.push('The userspace row is capped at 2,000 VIPs: each VIP is a listening socket (file descriptors).', '');
  out.push(...(await throughput()));
  // IPVS runs inside a User-Mode-Linux kernel (the host kernel has no IPVS).
  const { benchIpvs } = await import('./ipvs.js');
  out.push('', await benchIpvs());
  return out.join('\n');
}
