/**
 * Runs INSIDE User-Mode-Linux (started by bench/l4lb/ipvs.ts): programs N VIPs x 3 backends with
 * the ipvs driver and with its peer, `ipvsadm -R` (libnl, the C tool), from empty; then one
 * change on top. Prints one `BENCH {json}` line per size.
 */
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import type { Service } from '../../../l4lb/driver.js';
import { IpvsDriver } from '../../../l4lb/ipvs/driver.js';
import { median } from '../../lib/stats.js';

const pexec = promisify(execFile);
const sizes = (process.env.SEXTANT_BENCH_SIZES ?? '1000,10000').split(',').map(Number);

function makeServices(n: number): Service[] {
  return Array.from({ length: n }, (_, i) => {
    const vip = `11.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
    return { key: `tcp/${vip}:80`, vip, port: 80, protocol: 'tcp' as const, backends: [0, 1, 2].map((b) => ({ ip: `10.${b}.${(i >> 8) & 255}.${i & 255}`, port: 8080, weight: 1 })) };
  });
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}


function ipvsadm(args: string[], input?: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const p = spawn('ipvsadm', args, { stdio: [input === undefined ? 'ignore' : 'pipe', 'ignore', 'pipe'] });
    let err = '';
    p.stderr!.on('data', (d) => (err += d));
    p.on('close', (c) => (c === 0 ? resolve() : reject(new Error(`ipvsadm ${args.join(' ')}: ${err}`))));
    if (input !== undefined) p.stdin!.end(input);
  });
}

function restoreText(svcs: Service[]): string {
  const out: string[] = [];
  for (const s of svcs) {
    out.push(`-A -t ${s.vip}:${s.port} -s wlc`);
    for (const b of s.backends) out.push(`-a -t ${s.vip}:${s.port} -r ${b.ip}:${b.port} -m -w ${b.weight}`);
  }
  return `${out.join('\n')}\n`;
}

async function driverRow(n: number) {
  const d = new IpvsDriver({ iptables: 'iptables-legacy' });
  await d.start();
  await d.apply([]);
  const svcs = makeServices(n);
  const full = await timed(() => d.apply(svcs));
  const changes: number[] = [];
  for (let k = 0; k < 5; k++) {
    const b = svcs[17 + k * 101]!.backends[1]!;
    b.weight = b.weight ? 0 : 1;
    changes.push(await timed(() => d.apply(svcs)));
  }
  const reconcile = await timed(() => d.reconcile(svcs));
  const clear = await timed(() => d.apply([]));
  await d.stop();
  return { full, change: median(changes), reconcile, clear };
}

async function ipvsadmRow(n: number) {
  await ipvsadm(['-C']);
  const svcs = makeServices(n);
  const full = await timed(() => ipvsadm(['-R'], restoreText(svcs)));
  const changes: number[] = [];
  for (let k = 0; k < 5; k++) {
    const s = svcs[17 + k * 101]!;
    const b = s.backends[1]!;
    b.weight = b.weight ? 0 : 1;
    changes.push(await timed(() => ipvsadm(['-e', '-t', `${s.vip}:80`, '-r', `${b.ip}:${b.port}`, '-m', '-w', String(b.weight)])));
  }
  const dump = await timed(() => pexec('ipvsadm', ['-Sn'], { maxBuffer: 256 << 20 }));
  await ipvsadm(['-C']);
  return { full, change: median(changes), reconcile: dump };
}

for (const n of sizes) {
  const ours = await driverRow(n);
  const peer = await ipvsadmRow(n);
  console.log(`BENCH ${JSON.stringify({ n, ours, peer })}`);
}

if (process.env.SEXTANT_BENCH_IPVS_TRAFFIC !== '0') {
  const { ipvsTraffic } = await import('./traffic.uml.js');
  console.log(`TRAFFIC ${JSON.stringify(await ipvsTraffic())}`);
}
