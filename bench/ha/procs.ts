/**
 * Processes of the HA benchmark: a ZooKeeper ensemble (test/lib's `startEnsemble`: Debian's
 * server, per-run temp dir, stopped by PID), real `sextant master` processes (the built CLI), and
 * the simulated agents' process. Everything is started detached (own process group), noted for
 * Ctrl-C (`groups.ts`), and stopped by PID in reverse order by `Cleanup.run()`, temp dirs removed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { freePort, spawnTracked, uniqueName, type Tracked } from '../../test/lib/index.js';
import { forgetGroup, trackGroup } from '../lib/groups.js';

const here = dirname(fileURLToPath(import.meta.url));
const ts = import.meta.url.endsWith('.ts');
const repo = ts ? join(here, '..', '..') : join(here, '..', '..', '..');
export const SEXTANT = join(repo, 'dist', 'cli', 'sextant.js');

/** Teardown functions, run last-in first-out; what the test helpers call `t.teardown`. */
export class Cleanup {
  private fns: (() => unknown)[] = [];
  /** Set once run() began: supervised processes are not started again. */
  stopping = false;
  teardown(fn: () => unknown): void {
    this.fns.push(fn);
  }
  async run(): Promise<void> {
    this.stopping = true;
    for (const fn of this.fns.splice(0).reverse()) {
      try {
        await fn();
      } catch (e) {
        console.error(`bench ha: cleanup: ${(e as Error).message}`);
      }
    }
  }
  tmpDir(kind: string): string {
    const d = mkdtempSync(join(tmpdir(), `${uniqueName(kind)}-`));
    this.teardown(() => rmSync(d, { recursive: true, force: true }));
    return d;
  }
}

export function requireBuild(): void {
  if (!existsSync(SEXTANT)) throw new Error(`${SEXTANT} is missing: build first (\`npm run bench ha\` builds)`);
}

export interface MasterSpec {
  n: number;
  host: string;
  port: number;
  marathonPort: number;
  workDir: string;
  args: string[];
  env: NodeJS.ProcessEnv;
}

/**
 * One `sextant master` process; `start()` again after a kill reuses its address and work dir.
 * Supervised as `sextant up --masters` does: one that exits with a status (a leader that lost its
 * leadership or failed to take over) is started again and noted in `exits`; one killed is not.
 */
export class MasterProc {
  proc?: Tracked;
  /** Exits with a status, each with the last lines it wrote. */
  readonly exits: string[] = [];
  constructor(
    readonly spec: MasterSpec,
    private readonly c: Cleanup,
  ) {}

  get mesos(): string {
    return `http://${this.spec.host}:${this.spec.port}`;
  }
  get marathon(): string {
    return `http://${this.spec.host}:${this.spec.marathonPort}`;
  }
  get hostPort(): string {
    return `${this.spec.host}:${this.spec.port}`;
  }
  get alive(): boolean {
    const ch = this.proc?.child;
    return !!ch && ch.exitCode === null && ch.signalCode === null;
  }

  /** Spawn; resolves once it listens as a contender (or as the single master without --zk). */
  async start(): Promise<void> {
    const s = this.spec;
    const argv = [SEXTANT, 'master', '--ip', s.host, '--port', String(s.port), '--marathon-port', String(s.marathonPort), '--work-dir', s.workDir, '--insecure-dev', ...s.args];
    // BENCH_HA_NODE_ARGS: node flags for the masters (e.g. --cpu-prof --cpu-prof-dir=DIR to profile a takeover).
    const nodeArgs = (process.env.BENCH_HA_NODE_ARGS ?? '').split(' ').filter(Boolean);
    const p = spawnTracked(this.c, process.execPath, [...nodeArgs, ...argv], { env: s.env, graceMs: 5000 });
    trackGroup(p.pid);
    void p.exited.then(() => forgetGroup(p.pid));
    this.proc = p;
    void p.exited.then((code) => {
      if (code === null || this.c.stopping || this.proc !== p) return;
      const last = p.output().split('\n').filter((l) => /"level":"(error|warn)"/.test(l)).slice(-2).join(' ');
      this.exits.push(`${this.hostPort} exited with status ${code}: ${last.slice(0, 600)}`);
      void this.start().catch((e: Error) => this.exits.push(`${this.hostPort}: restart failed: ${e.message.slice(0, 300)}`));
    });
    await p.waitFor(/sextant master listening on/, 60_000);
  }

  /** The ts (ms since the epoch) of this process's first log line with `event` at or after `since`. */
  eventAt(event: string, since: number): number | undefined {
    for (const l of this.proc?.output().split('\n') ?? []) {
      if (!l.includes(`"event":"${event}"`)) continue;
      try {
        const ts = Date.parse((JSON.parse(l) as { ts: string }).ts);
        if (ts >= since) return ts;
      } catch {
        /* not a log line */
      }
    }
    return undefined;
  }

  /** This process's log lines (parsed) with a ts at or after `since`, each with `at` (ms since the epoch). */
  logSince(since: number): (Record<string, unknown> & { event: string; at: number })[] {
    const out: (Record<string, unknown> & { event: string; at: number })[] = [];
    for (const l of this.proc?.output().split('\n') ?? []) {
      if (!l.startsWith('{')) continue;
      try {
        const o = JSON.parse(l) as Record<string, unknown>;
        const at = Date.parse(String(o.ts));
        if (at >= since && typeof o.event === 'string') out.push({ ...o, event: o.event, at });
      } catch {
        /* not a log line */
      }
    }
    return out;
  }

  /** Resolves when this process says it was elected. */
  elected(timeoutMs = 60_000): Promise<unknown> {
    return this.proc!.waitFor(/sextant master elected leader/, timeoutMs);
  }

  /** kill -9 by PID (its process group); resolves with the time of the kill (performance.now()). */
  async kill9(): Promise<number> {
    const p = this.proc!;
    const t = performance.now();
    process.kill(-p.pid, 'SIGKILL');
    await p.exited;
    return t;
  }
}

export async function masterSpec(c: Cleanup, n: number, host: string, args: string[], env: NodeJS.ProcessEnv): Promise<MasterSpec> {
  return { n, host, port: await freePort(host), marathonPort: await freePort(host), workDir: c.tmpDir(`ha-master${n}`), args, env };
}

/** The simulated agents' process (agents.ts), its JSON lines as events. */
export class AgentsProc {
  readonly child: ChildProcess;
  private readonly listeners = new Set<(m: Record<string, unknown>) => void>();
  private readonly exited: Promise<void>;
  private err = '';

  constructor(zk: string, ip: string, count: number, c: Cleanup, env: NodeJS.ProcessEnv) {
    const file = join(here, ts ? 'agents.ts' : 'agents.js');
    const args = ts ? ['--import', 'tsx', file] : [file];
    this.child = spawn(process.execPath, [...args, zk, ip, String(count)], { stdio: ['pipe', 'pipe', 'pipe'], detached: true, env });
    trackGroup(this.child.pid);
    this.child.stderr!.on('data', (d: Buffer) => (this.err = (this.err + d.toString()).slice(-4000)));
    this.exited = new Promise((r) => this.child.once('exit', () => r()));
    createInterface({ input: this.child.stdout! }).on('line', (l) => {
      let m: Record<string, unknown>;
      try {
        m = JSON.parse(l) as Record<string, unknown>;
      } catch {
        return;
      }
      for (const f of this.listeners) f(m);
    });
    c.teardown(() => this.stop());
  }

  on(f: (m: Record<string, unknown>) => void): () => void {
    this.listeners.add(f);
    return () => this.listeners.delete(f);
  }

  /** Resolves when `pred` holds for a message; rejects on exit or after timeoutMs. */
  wait(pred: (m: Record<string, unknown>) => boolean, timeoutMs: number, what: string): Promise<Record<string, unknown>> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => (off(), reject(new Error(`simulated agents: no ${what} in ${timeoutMs} ms`))), timeoutMs);
      const off = this.on((m) => pred(m) && (clearTimeout(timer), off(), resolve(m)));
      void this.exited.then(() => (clearTimeout(timer), off(), reject(new Error(`simulated agents exited: ${this.err.slice(-1500)}`))));
    });
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.stdin!.end('stop\n');
    const timer = setTimeout(() => {
      try {
        process.kill(-this.child.pid!, 'SIGKILL');
      } catch {
        /* gone */
      }
    }, 10_000);
    await this.exited;
    clearTimeout(timer);
    forgetGroup(this.child.pid);
  }
}
