/**
 * `sextant up` as scripts run it, for the tests of issue 24: on a private loopback block with
 * free ports, torn down by the pids it printed (and its agents' checkpointed tasks killed), even
 * when the test fails.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomInt } from 'node:crypto';
import { promisify } from 'node:util';
import { killCheckpointedTasks } from '../../agent/index.js';
import { INSECURE_DEV, freePort, loopbackBlock, spawnTracked, stopPids, uniqueName, type Tracked } from '../lib/index.js';
import { sextantJs } from './backbone-lib.js';

interface Teardownable {
  teardown(fn: () => unknown): void;
}

export interface UpPlan {
  ipBase: string;
  masterPort: number;
  marathonPort: number;
  agentPort: number;
  mesosDnsPort: number;
  portBase: number;
  /** The HTTPS entry point (sextant up's --admin-port), free so parallel runs never meet on 8443. */
  adminPort: number;
}

/** Addresses and ports for one cluster, free now. */
export async function upPlan(): Promise<UpPlan> {
  const ipBase = loopbackBlock()(1).split('.').slice(0, 3).join('.');
  const [masterPort, marathonPort, mesosDnsPort, adminPort] = await distinctFreePorts(`${ipBase}.1`, 4);
  return { ipBase, masterPort, marathonPort, agentPort: await freePort(`${ipBase}.2`), mesosDnsPort, portBase: randomInt(20, 55) * 1000, adminPort: adminPort! };
}

async function distinctFreePorts(host: string, n: number): Promise<number[]> {
  const out = new Set<number>();
  for (let i = 0; out.size < n && i < 100; i++) out.add(await freePort(host));
  if (out.size < n) throw new Error(`no ${n} distinct free ports on ${host}`);
  return [...out];
}

/** `sextant up` arguments; plain HTTP (INSECURE_DEV) unless `secure` (the tests of the mutual-TLS cluster). */
export function upArgs(p: UpPlan, workDir: string, agents: number, extra: string[] = [], o: { secure?: boolean } = {}): string[] {
  return [
    sextantJs, 'up', '--agents', String(agents), '--work-dir', workDir, '--ip-base', p.ipBase, '--master-port', String(p.masterPort), '--marathon-port', String(p.marathonPort),
    '--agent-port', String(p.agentPort), '--mesos-dns-port', String(p.mesosDnsPort), '--port-base', String(p.portBase), '--agent-timeout-ms', '3000', ...(extra.includes('--admin-port') ? [] : ['--admin-port', String(p.adminPort)]), ...(o.secure ? [] : INSECURE_DEV), ...extra,
  ];
}

/** A fresh work dir (removed on teardown). */
export function upWorkDir(t: Teardownable, kind: string): string {
  const dir = mkdtempSync(join(tmpdir(), `${uniqueName(kind)}-`));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Spawn `sextant up` with these arguments (the master's control plane and Mesos-DNS HTTP keep their default ports, on this block's .1). */
export function spawnUp(t: Teardownable, args: string[], workDir: string): Tracked {
  const up = spawnTracked(t, process.execPath, args, { graceMs: 20_000 });
  t.teardown(async () => {
    const pids = [...up.output().matchAll(/^(?:master(?: \d+)?|agent \d+|zookeeper \d+): pid (\d+)/gm)].map((m) => Number(m[1]));
    up.kill('SIGTERM');
    await Promise.race([up.exited, new Promise((r) => setTimeout(r, 20_000))]);
    await stopPids(pids);
    if (existsSync(workDir)) for (const d of readdirSync(workDir).filter((d) => d.startsWith('agent-'))) killCheckpointedTasks(join(workDir, d));
  });
  return up;
}

/** The CLI as a user runs it against an entry point: its URL, the CA and a token (nothing stored, no client certificate); exit code and output. */
export async function cliWithToken(dir: string, entry: string, ca: string, token: string, args: string[]): Promise<{ code: number; out: string }> {
  const env: NodeJS.ProcessEnv = { ...process.env, SEXTANT_URL: entry, SEXTANT_CA: ca, SEXTANT_TOKEN: token, XDG_CONFIG_HOME: join(dir, 'config') };
  for (const k of ['SEXTANT_MASTER', 'SEXTANT_MARATHON', 'SEXTANT_CERT', 'SEXTANT_KEY']) delete env[k];
  try {
    const r = await promisify(execFile)(process.execPath, [sextantJs, ...args], { env, timeout: 60_000 });
    return { code: 0, out: r.stdout + r.stderr };
  } catch (e) {
    const x = e as { code?: number; stdout?: string; stderr?: string; message: string };
    return { code: typeof x.code === 'number' ? x.code : -1, out: `${x.stdout ?? ''}${x.stderr ?? x.message}` };
  }
}
