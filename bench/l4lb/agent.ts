/**
 * The agent process at N VIPs (issue 26: under 100 MB at 10,000 VIPs, under 5 ms per single-VIP
 * change): a real `sextant master` and a real `sextant agent` (default node services, nftables
 * driver) in namespaces (agent-cluster.ts). N named VIPs x 3 backends come through Marathon as an
 * operator makes them: N/100 apps of 3 instances, each with 100 ports labelled `VIP_0:
 * /bNNN-pMM:80`, placed on a worker agent (so the measured agent runs no task). Reported: the
 * measured agent's RSS (VmRSS, VmHWM, anonymous vs file-backed) and V8 heap from its own metrics
 * before the first VIP, once all are programmed, and after the single changes and a full
 * collection-free minute; the ramp (first app created -> every VIP in the agent's kernel); per single
 * change (a VIP added: an app of one instance; removed: that app deleted; a backend's weight: a
 * health check flipped by a file), the wall from the operator's request to the agent's log line
 * saying it wrote the kernel, the master's version -> the agent's ACK, and the agent's CPU (every
 * thread, schedstat) over the change minus its idle rate.
 */
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { median } from '../lib/stats.js';
import { procCpuMs, procMemory, startAgentCluster, WORKER, type AgentCluster, type LogLine } from './agent-cluster.js';

const PORTS_PER_APP = 100;

const fmtMs = (ms: number) => (ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(1)} ms`);
const mib = (b: number) => (b / 1048576).toFixed(1);

/** `name{labels} value` lines of a Prometheus text page, summed per name (labels matched by `labels`). */
function metric(text: string, name: string, labels = ''): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    if (!(rest.startsWith(' ') || rest.startsWith('{'))) continue;
    if (labels && !rest.includes(labels)) continue;
    sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

interface Heap {
  used: number;
  total: number;
  external: number;
  young: number;
}

async function heapOf(c: AgentCluster): Promise<Heap> {
  const text = (await c.http('GET', `http://${c.aip}:5051/metrics`)).body as string;
  const m = (n: string, l = '') => metric(text, `sextant_process_nodejs_${n}`, l);
  return { used: m('heap_size_used_bytes'), total: m('heap_size_total_bytes'), external: m('external_memory_bytes'), young: m('heap_space_size_total_bytes', 'space="new"') };
}

/**
 * `SEXTANT_BENCH_AGENT_HEAPSNAPSHOT=DIR`: the measured agent runs with `--heapsnapshot-signal=SIGUSR2`
 * and a heap snapshot is written into DIR after the rows "no VIP" and "35 s later, idle" are read
 * (so those rows are not affected; the peak (VmHWM) and the RSS of the later rows may be).
 */
const snapshotDir = process.env.SEXTANT_BENCH_AGENT_HEAPSNAPSHOT;

async function heapSnapshot(c: AgentCluster): Promise<void> {
  if (!snapshotDir) return;
  const files = () => readdirSync(snapshotDir).filter((f) => f.endsWith('.heapsnapshot'));
  const before = new Set(files());
  process.kill(c.agentPid, 'SIGUSR2');
  const file = await until(async () => files().find((f) => !before.has(f)), 120_000, 500, 'a heap snapshot of the agent');
  // Written synchronously by the agent's main thread: done once the agent answers again and the size holds.
  let size = -1;
  await until(async () => {
    await heapOf(c);
    const s = statSync(join(snapshotDir, file)).size;
    const same = s === size && s > 0;
    size = s;
    return same ? true : undefined;
  }, 300_000, 1000, 'the heap snapshot written');
}

/**
 * `SEXTANT_BENCH_AGENT_SMAPS=DIR`: a copy of the measured agent's /proc/PID/smaps and status at each
 * row, `NN-smaps` and `NN-status` (where its RSS is, mapping by mapping; reading them changes nothing).
 */
const smapsDir = process.env.SEXTANT_BENCH_AGENT_SMAPS;
let smapsRow = 0;

function copySmaps(pid: number): void {
  if (!smapsDir) return;
  mkdirSync(smapsDir, { recursive: true });
  const n = String(smapsRow++).padStart(2, '0');
  for (const f of ['smaps', 'status']) writeFileSync(join(smapsDir, `${n}-${f}`), readFileSync(`/proc/${pid}/${f}`));
}

async function memRow(c: AgentCluster, stage: string, snapshot = false): Promise<string> {
  const h = await heapOf(c);
  const m = procMemory(c.agentPid);
  copySmaps(c.agentPid);
  if (snapshot) await heapSnapshot(c);
  return `| ${stage} | ${m.rss.toFixed(1)} | ${m.hwm.toFixed(1)} | ${m.anon.toFixed(1)} / ${m.file.toFixed(1)} | ${mib(h.used)} / ${mib(h.total)} (young ${mib(h.young)}) | ${mib(h.external)} |`;
}

function app(id: string, instances: number, vips: string[], extra: Record<string, unknown> = {}) {
  return {
    id,
    instances,
    cmd: 'sleep 100000',
    cpus: 0.01,
    mem: 1,
    constraints: [['hostname', 'CLUSTER', WORKER]],
    portDefinitions: vips.map((v) => ({ port: 0, protocol: 'tcp', labels: { VIP_0: `/${v}:80` } })),
    ...extra,
  };
}

async function ok(c: AgentCluster, method: string, path: string, body?: unknown): Promise<void> {
  const r = await c.http(method, `http://${c.mip}:8080${path}`, body);
  if (r.status >= 300) throw new Error(`${method} ${path}: ${r.status} ${JSON.stringify(r.body).slice(0, 300)}`);
}

async function controlState(c: AgentCluster): Promise<{ applied: number; version: number; broken: number }> {
  return (await c.http('GET', `http://${c.aip}:5051/v1/control/state`)).body as { applied: number; version: number; broken: number };
}

/** The master's version -> ACK histogram (sum, count) for the measured agent, and its durable store's writes (write + fsync + rename). */
async function ackLatency(c: AgentCluster): Promise<{ sum: number; count: number; storeSum: number; storeCount: number }> {
  const text = (await c.http('GET', `http://${c.mip}:5050/metrics`)).body as string;
  return {
    sum: metric(text, 'sextant_control_ack_latency_seconds_sum'),
    count: metric(text, 'sextant_control_ack_latency_seconds_count'),
    storeSum: metric(text, 'sextant_master_store_write_seconds_sum'),
    storeCount: metric(text, 'sextant_master_store_write_seconds_count'),
  };
}

async function until<T>(fn: () => Promise<T | undefined>, timeoutMs: number, everyMs: number, what: string): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn().catch((e: unknown) => {
      if (e instanceof Error && e.message.includes('control stream broke')) throw e;
      return undefined;
    });
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

interface ChangeResult {
  wall: number;
  ack: number;
  cpu: number;
  /** The agent's own time applying the update(s) to its consumers (sextant_control_client_apply_duration_seconds), per update. */
  apply: number;
  /** The agent's CPU while folding in and applying the update(s) (sextant_control_client_update_cpu_seconds), summed over the change. */
  updateCpu: number;
  updates: number;
  /** The master's durable store writes over the change: how many, and their time (the control plane's write-ahead save of each version is among them). */
  storeWrites: number;
  storeMs: number;
}

/** The agent's apply-duration and update-CPU histograms (sum, count). */
async function applyDuration(c: AgentCluster): Promise<{ sum: number; count: number; cpu: number; cpuCount: number }> {
  const text = (await c.http('GET', `http://${c.aip}:5051/metrics`)).body as string;
  const m = (n: string) => metric(text, `sextant_control_client_${n}`);
  return { sum: m('apply_duration_seconds_sum'), count: m('apply_duration_seconds_count'), cpu: m('update_cpu_seconds_sum'), cpuCount: m('update_cpu_seconds_count') };
}

/** The agent's CPU per ms of wall time over `ms` of quiet (its periodic work: metrics reads, reconciles). */
async function idleRate(c: AgentCluster, ms: number): Promise<number> {
  const [cpu0, t0] = [procCpuMs(c.agentPid), performance.now()];
  await new Promise((r) => setTimeout(r, ms));
  return (procCpuMs(c.agentPid) - cpu0) / (performance.now() - t0);
}

/**
 * One change: `trigger`, then the agent's `vips_applied` line that `done` accepts, then its ACK of that
 * version. CPU: every thread of the agent over the window, less `idleRate` (ms of CPU per ms) times it.
 */
async function change(c: AgentCluster, idleRate: number, trigger: () => Promise<void>, done: (l: LogLine) => boolean, what: string): Promise<ChangeResult> {
  const [s0, a0, d0] = [await controlState(c), await ackLatency(c), await applyDuration(c)];
  const cpu0 = procCpuMs(c.agentPid);
  const t0 = performance.now();
  const seen = c.nextLog((l) => l.event === 'vips_applied' && done(l), 120_000, what);
  await trigger();
  const line = await seen;
  const wall = performance.now() - t0;
  const version = Number(line.version);
  const s1 = await until(async () => {
    const s = await controlState(c);
    return s.applied >= version ? s : undefined;
  }, 30_000, 20, `the agent's ACK of version ${version}`);
  const cpu = procCpuMs(c.agentPid) - cpu0 - idleRate * (performance.now() - t0);
  const [a1, d1] = [await ackLatency(c), await applyDuration(c)];
  const acks = a1.count - a0.count;
  const applies = d1.count - d0.count;
  return {
    wall,
    ack: acks > 0 ? ((a1.sum - a0.sum) / acks) * 1000 : NaN,
    cpu,
    apply: applies > 0 ? ((d1.sum - d0.sum) / applies) * 1000 : NaN,
    updateCpu: (d1.cpu - d0.cpu) * 1000,
    updates: s1.applied - s0.applied,
    storeWrites: a1.storeCount - a0.storeCount,
    storeMs: (a1.storeSum - a0.storeSum) * 1000,
  };
}

function changeRow(name: string, rs: ChangeResult[]): string {
  const m = (f: (r: ChangeResult) => number) => median(rs.map(f));
  return `| ${name} | ${rs.length} | ${fmtMs(m((r) => r.wall))} | ${fmtMs(m((r) => r.ack))} | ${fmtMs(m((r) => r.apply))} | ${m((r) => r.updateCpu).toFixed(1)} ms (${rs.map((r) => r.updateCpu.toFixed(1)).join(' / ')}) | ${m((r) => r.cpu).toFixed(1)} ms | ${m((r) => r.updates)} | ${m((r) => r.storeWrites)} / ${fmtMs(m((r) => r.storeMs))} |`;
}

export async function agentProcess(): Promise<string[]> {
  const n = Number(process.env.SEXTANT_BENCH_AGENT_VIPS ?? 10000);
  if (!Number.isInteger(n) || n < PORTS_PER_APP || n % PORTS_PER_APP) throw new Error(`SEXTANT_BENCH_AGENT_VIPS=${n}: a multiple of ${PORTS_PER_APP}`);
  const out = [`## The agent process (a real \`sextant agent\` at ${n.toLocaleString('en')} VIPs x 3 backends)`, ''];
  const nodeArgs = (process.env.SEXTANT_BENCH_AGENT_NODE_ARGS ?? '').split(' ').filter(Boolean);
  if (snapshotDir) {
    mkdirSync(snapshotDir, { recursive: true });
    nodeArgs.push('--heapsnapshot-signal=SIGUSR2', `--diagnostic-dir=${snapshotDir}`);
  }
  const c = await startAgentCluster(nodeArgs);
  // Stopped from outside (Ctrl-C, timeout): stop the cluster's processes and delete its namespaces first.
  const onSignal = (sig: NodeJS.Signals) => void c.close().finally(() => process.exit(sig === 'SIGINT' ? 130 : 143));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    // Converged with no VIP: the control plane applied, the services started.
    await until(async () => ((await controlState(c)).applied > 0 ? true : undefined), 60_000, 200, 'the agent applying a first version');
    const mem: string[] = [await memRow(c, 'registered, node services started, no VIP', true)];
    const idleEmpty = await idleRate(c, 5000);

    // The ramp: N/100 apps of 100 VIP ports and 3 instances, on the worker.
    const apps = n / PORTS_PER_APP;
    const [cpu0, a0, s0] = [procCpuMs(c.agentPid), await ackLatency(c), await controlState(c)];
    const t0 = performance.now();
    for (let a = 0; a < apps; a++) {
      const tag = `b${String(a).padStart(3, '0')}`;
      await ok(c, 'POST', '/v2/apps', app(`/bench/${tag}`, 3, Array.from({ length: PORTS_PER_APP }, (_, p) => `${tag}-p${String(p).padStart(2, '0')}`)));
    }
    const posted = performance.now() - t0;
    const metricsOf = async () => (await c.http('GET', `http://${c.aip}:5051/metrics`)).body as string;
    await until(
      async () => {
        const st = await controlState(c);
        if (st.broken > s0.broken + 5) throw new Error(`the agent's control stream broke ${st.broken - s0.broken} times during the ramp: ${JSON.stringify(c.problems().slice(-3))}`);
        const text = await metricsOf();
        return metric(text, 'sextant_l4lb_vips') === n && metric(text, 'sextant_l4lb_backends', 'state="active"') === 3 * n ? true : undefined;
      },
      30 * 60_000,
      1000,
      `${n} VIPs with ${3 * n} active backends in the agent`,
    );
    const ramp = performance.now() - t0;
    const [cpu1, a1, s1] = [procCpuMs(c.agentPid), await ackLatency(c), await controlState(c)];
    const acks = a1.count - a0.count;
    mem.push(await memRow(c, `${n.toLocaleString('en')} VIPs programmed (grown over the ramp)`));
    // The agent's own periodic work at N VIPs (VIP metrics reads, the 30 s reconciles), over more than one period.
    const idle = await idleRate(c, 35_000);
    mem.push(await memRow(c, '35 s later, idle', true));

    // Single changes, 5 of each kind (weight: 5 each way).
    const flag = join(c.dir, 'unhealthy');
    mkdirSync(c.dir, { recursive: true });
    await ok(c, 'POST', '/v2/apps', app('/bench/chgw', 1, ['chgw'], { healthChecks: [{ protocol: 'COMMAND', command: { value: `test ! -e ${flag}` }, intervalSeconds: 1, timeoutSeconds: 5, gracePeriodSeconds: 30, maxConsecutiveFailures: 0 }] }));
    await ok(c, 'POST', '/v2/apps', app('/bench/chgw2', 2, ['chgw']));
    await until(async () => (metric(await metricsOf(), 'sextant_l4lb_backends', 'state="active"') === 3 * n + 3 ? true : undefined), 120_000, 500, 'the weight app healthy');
    const adds: ChangeResult[] = [];
    const dels: ChangeResult[] = [];
    const weights: ChangeResult[] = [];
    for (let k = 0; k < 5; k++) {
      const id = `/bench/chgadd${k}`;
      adds.push(await change(c, idle, () => ok(c, 'POST', '/v2/apps', app(id, 1, [`chgadd${k}`])), (l) => Number(l.added) > 0, `VIP chgadd${k} added`));
      dels.push(await change(c, idle, () => ok(c, 'DELETE', `/v2/apps${id}`), (l) => Number(l.removed) > 0, `VIP chgadd${k} removed`));
      weights.push(await change(c, idle, async () => writeFileSync(flag, ''), (l) => Number(l.changed) > 0, 'a backend drained'));
      weights.push(await change(c, idle, async () => rmSync(flag, { force: true }), (l) => Number(l.changed) > 0, 'a backend back'));
    }
    mem.push(await memRow(c, 'after the 25 single changes'));
    // The periodic full reconcile (every 30 s) has run at least once by now; one more minute idle.
    await new Promise((r) => setTimeout(r, 60_000));
    mem.push(await memRow(c, 'one minute later (idle, periodic reconciles)'));
    // `SEXTANT_BENCH_AGENT_TRIM=1` (diagnostic, needs gdb): glibc's malloc_trim(0) in the agent, to tell
    // the memory malloc holds free from what is in use.
    if (process.env.SEXTANT_BENCH_AGENT_TRIM === '1') {
      const r = spawnSync('gdb', ['-p', String(c.agentPid), '-batch', '-ex', 'call (int) malloc_trim(0)'], { encoding: 'utf8', timeout: 120_000 });
      if (r.status !== 0) throw new Error(`gdb malloc_trim: ${r.status ?? r.signal} ${r.stderr.slice(-300)}`);
      mem.push(await memRow(c, 'then glibc `malloc_trim(0)` in the agent (gdb; diagnostic)'));
    }
    const rel = await metricsOf();
    const releases = metric(rel, 'sextant_agent_memory_releases_total');
    const releaseSec = metric(rel, 'sextant_agent_memory_release_seconds_sum');
    const kernel = JSON.parse(await c.agentNs.exec('nft', ['-j', 'list', 'map', 'inet', 'sextant_l4lb', 'svc4'], { timeoutMs: 60_000 })) as { nftables: { map?: { elem?: unknown[] } }[] };
    const inKernel = kernel.nftables.find((o) => o.map)?.map?.elem?.length ?? 0;

    out.push(
      '| stage | VmRSS MiB | VmHWM MiB | RSS anonymous / file-backed MiB | V8 heap used / total MiB | external MiB |',
      '| --- | --- | --- | --- | --- | --- |',
      ...mem,
      '',
      `- Ramp: ${apps} apps posted in ${fmtMs(posted)}; from the first POST to all ${n.toLocaleString('en')} VIPs and ${(3 * n).toLocaleString('en')} backends programmed in the agent: ${fmtMs(ramp)} (the worker launching ${3 * apps} tasks of ${PORTS_PER_APP} ports, the master publishing versions as they run). The agent applied ${s1.applied - s0.applied} versions on the way, ${fmtMs(cpu1 - cpu0)} of CPU in all (${fmtMs((cpu1 - cpu0) / Math.max(1, s1.applied - s0.applied))} per version); the master's version -> the agent's ACK: mean ${fmtMs(acks ? ((a1.sum - a0.sum) / acks) * 1000 : NaN)} over ${acks} ACKs.`,
      `- V8 memory releases in the agent (agent/release.ts, once quiet after a burst): ${releases} over the run, ${fmtMs(releaseSec * 1000)} of its main thread in all (${releases ? fmtMs((releaseSec * 1000) / releases) : '-'} each on average).`,
      `- In the agent's kernel at the end: ${inKernel} elements in \`svc4\` (the ${n.toLocaleString('en')} VIPs and the change apps' one).`,
      `- Idle CPU of the agent: ${(idleEmpty * 1000).toFixed(1)} ms per second with no VIP, ${(idle * 1000).toFixed(1)} ms per second at ${n.toLocaleString('en')} VIPs over 35 s (its periodic work: VIP metrics reads, the 30 s full reconciles; subtracted from the CPU per change below, so single runs carry that noise).`,
      '',
      '| single change | runs | wall: operator\'s request -> the agent wrote the kernel (median) | master\'s version -> agent\'s ACK (mean over the run) | the agent applying an update to its consumers (wall, median of the means) | the agent\'s CPU on the change\'s updates (its own accounting: median; runs) | the agent\'s CPU over the whole window less its idle rate (median; noisy) | versions applied (median) | the master\'s durable store over the change: writes / their time (median) |',
      '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
      changeRow('VIP added (an app of 1 instance; waits for its task to run)', adds),
      changeRow('VIP removed (that app deleted)', dels),
      changeRow('backend weight 1 -> 0 -> 1 (a COMMAND health check flipped; 1 s interval)', weights),
      '',
    );
    return out;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await c.close();
  }
}
