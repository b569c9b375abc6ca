/**
 * IPVS benchmark (the host kernel has no IPVS, so it runs inside User-Mode-Linux): programming
 * 1,000 and 10,000 VIPs x 3 backends from empty and one change on top, with the ipvs driver
 * (generic netlink from Node, plus the VIP routes) against its peer `ipvsadm -R` (the C tool).
 */
import { existsSync } from 'node:fs';
import { allowedCpus } from '../lib/cpus.js';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runInUml, umlMissing } from '../../l4lb/ipvs/index.js';
import { TASKSET } from '../../l4lb/ipvs/uml.js';
import { rows as pairRows } from './traffic.js';
import type { Pair } from '../lib/pairs.js';
import { UML_IPERF_RUNS, UML_WRK_RUNS } from './ipvs/traffic.uml.js';
import { measuredSteal } from '../lib/steal.js';

interface Row {
  n: number;
  ours: { full: number; change: number; reconcile: number; clear: number };
  peer: { full: number; change: number; reconcile: number };
}

const fmt = (ms: number) => (ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(1)} ms`);
const ratio = (a: number, b: number) => (a / b).toFixed(2);

/** Repository root, from this file in the sources or in dist/. */
function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) dir = dirname(dir);
  return dir;
}

/** The bench's knobs that the script inside UML reads (UML starts it with a fresh environment). */
const UML_KNOBS = ['SEXTANT_BENCH_SIZES', 'SEXTANT_BENCH_IPVS_TRAFFIC'] as const;

function umlEnv(): Record<string, string> {
  return Object.fromEntries(UML_KNOBS.flatMap((k) => (process.env[k] !== undefined ? [[k, process.env[k]!]] : [])));
}

export async function benchIpvs(): Promise<string> {
  const missing = umlMissing();
  if (missing.length) return `## IPVS (inside User-Mode-Linux)\n\nNot measured: missing ${missing.join(', ')}.\n`;
  const root = repoRoot();
  const compiled = join(root, 'dist/bench/l4lb/ipvs/inside.uml.js');
  const fromDist = fileURLToPath(import.meta.url).includes('/dist/') && existsSync(compiled);
  const command = fromDist ? [process.execPath, compiled] : [process.execPath, '--import', 'tsx', 'bench/l4lb/ipvs/inside.uml.ts'];
  // UML on one host CPU (the last; this process only waits meanwhile): see UmlOptions.cpu.
  const cpus = allowedCpus();
  const cpu = existsSync(TASKSET) && cpus.length > 1 ? cpus[cpus.length - 1] : undefined;
  const { value: r, steal: hostSteal } = await measuredSteal(() => runInUml({ command, cwd: root, prefix: 'sextant-bench', memMb: 1536, timeoutMs: 500_000, cpu, env: umlEnv() }));
  const rows: Row[] = r.output
    .split('\n')
    .filter((l) => l.startsWith('BENCH '))
    .map((l) => JSON.parse(l.slice(6)) as Row);
  if (!rows.length) return `## IPVS (inside User-Mode-Linux)\n\nThe run inside UML failed (exit ${r.exitCode}):\n\n\`\`\`\n${r.output.slice(-2000)}\n\`\`\`\n`;
  const lines = [
    '## IPVS (inside User-Mode-Linux 6.1, one CPU)',
    '',
    '| VIPs | tool | from empty | one change (median of 5) | full reconcile / dump | remove all |',
    '| --- | --- | --- | --- | --- | --- |',
  ];
  for (const x of rows) {
    lines.push(`| ${x.n} | ipvs driver (genl from Node, + local routes) | ${fmt(x.ours.full)} | ${fmt(x.ours.change)} | ${fmt(x.ours.reconcile)} | ${fmt(x.ours.clear)} |`);
    lines.push(`| ${x.n} | ipvsadm -R / -e / -Sn (peer, C + libnl) | ${fmt(x.peer.full)} | ${fmt(x.peer.change)} | ${fmt(x.peer.reconcile)} | - |`);
  }
  lines.push('');
  for (const x of rows) lines.push(`- ${x.n} VIPs: from empty ${ratio(x.ours.full, x.peer.full)}x the time of \`ipvsadm -R\`; one change ${ratio(x.ours.change, x.peer.change)}x the time of one \`ipvsadm -e\`; reconcile (dump of every service and its destinations + diff) ${ratio(x.ours.reconcile, x.peer.reconcile)}x \`ipvsadm -Sn\`.`);
  const traffic = r.output.split('\n').find((l) => l.startsWith('TRAFFIC '));
  if (traffic) {
    const { tput, conn } = JSON.parse(traffic.slice(8)) as { tput: Pair; conn: Pair };
    lines.push(
      '',
      '### Traffic through an IPVS VIP vs direct (inside UML, one CPU)',
      '',
      `Client in the UML main namespace, backend in a namespace behind a veth; the VIP is programmed by the ipvs driver (wlc, masquerade forwarding) with the node address \`10.9.9.1\` as \`nodeIp\`, so flows from the client skip the hairpin MASQUERADE (one NAT per packet, the one IPVS does). iperf3: one TCP stream, ${UML_IPERF_RUNS} runs of 5 s; wrk: \`Connection: close\`, 16 connections, ${UML_WRK_RUNS} runs of 3 s; direct and VIP alternate, the first of each pair flipping (per pair: the median of the ratios of each VIP run to the direct run of its pair).`,
      '',
      '| path | Gbit/s (runs) | vs direct |',
      '| --- | --- | --- |',
      ...pairRows('direct (veth)', 'ipvs VIP (masquerade)', tput, 2),
      '',
      '| path | requests/s (runs) | vs direct |',
      '| --- | --- | --- |',
      ...pairRows('direct (veth)', 'ipvs VIP (masquerade)', conn, 0),
      '',
      'Target (issue 6): kernel drivers at least 95% of direct. Client, backend and both kernels\' paths share the one UML CPU.',
    );
  } else lines.push('', 'IPVS traffic: not measured in this run (no TRAFFIC line from UML).');
  lines.push('', `UML run: ${(r.durationMs / 1000).toFixed(1)} s including boot. The driver's "from empty" also adds one local route per VIP (\`ip -batch\`); \`ipvsadm\` only programs IPVS. UML syscalls are much slower than a native kernel's, so absolute figures are pessimistic; the ratios are the comparison. ${cpu === undefined ? 'UML ran unpinned (no `taskset`, or one CPU).' : `UML and its helper processes ran on host CPU ${cpu} (\`taskset\`): UML hands each system call of its processes between host processes, and on one CPU it runs about twice as fast and steadier.`} Host CPU steal over the whole UML run: ${(hostSteal * 100).toFixed(0)}% (UML's one CPU is a host thread, so stolen host time slows whichever run it falls in).`, '');
  return lines.join('\n');
}
