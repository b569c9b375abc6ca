/**
 * `sextant up --status-file PATH`: a JSON description of what this `up` started, for scripts and
 * tests. Written atomically (a temp file in the same directory, then rename) once the cluster is
 * up, and again on every change (a process exits, the cluster stops). On exit it is kept, with
 * `"state": "stopped"` and every process marked exited, so a watcher can tell "stopped" from "not
 * started yet" (no file). The format is in README.md ("Scripting sextant up").
 *
 * Later work adds fields through update(): keep every field optional for readers.
 */
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

export type ProcState = 'running' | 'exited';

export interface MasterStatus {
  id: string;
  /** Mesos API base URL, e.g. http://127.0.0.1:5050 */
  mesos: string;
  /** Marathon API base URL, e.g. http://127.0.0.1:8080 */
  marathon: string;
  /** With --masters 3|5: this master's HTTPS entry point (every master runs one), e.g. https://127.0.0.2:8443 */
  entry?: string;
  pid: number;
  leader: boolean;
  state: ProcState;
  /** How it ended (`code 0`, `SIGKILL`), once exited. */
  exit?: string;
}

export interface AgentStatus {
  id: string;
  ip: string;
  /** Agent API base URL, e.g. http://127.0.0.2:5051 */
  api: string;
  pid: number;
  /** The network namespace the agent runs in (--netns), or null for the host's. */
  netns: string | null;
  state: ProcState;
  exit?: string;
}

export interface UpStatus {
  /** `up` while running, `stopping` during Ctrl-C, `stopped` once everything it started ended. */
  state: 'up' | 'stopping' | 'stopped';
  /** The `sextant up` process, and its /proc start time (tells a reused pid apart). */
  pid: number;
  startTime?: string;
  workDir: string;
  masters: MasterStatus[];
  agents: AgentStatus[];
  /** The HTTPS entry point's URL (`https://IP:8443`), when one runs; with --masters 3|5 the current leader's (kept current across failovers). */
  entry?: string;
  /** Path of the cluster CA certificate the entry point's certificate is issued by (curl --cacert). */
  ca?: string;
  /** With --masters 3|5: the ZooKeeper servers this run started, and the masters' store URL. */
  zookeeper?: ZooKeeperStatus[];
  zk?: string;
  /** Path of the masters' ZooKeeper credential (`user:password`, 0600); the secret itself is never in this file. */
  zk_auth_file?: string;
  /** A superuser token for this cluster's ACS (`Authorization: token=<jwt>`), once logged in. */
  token?: string;
  /** Under mutual TLS: the operator's client certificate and key (paths) for the component ports (`--cert`/`--key`). */
  cli_cert?: string;
  cli_key?: string;
}

export interface ZooKeeperStatus {
  /** `host:clientPort` */
  address: string;
  pid: number;
  state: ProcState;
  exit?: string;
}

/** The status file at `path` if it is one (pid, state, masters and agents lists), else undefined. */
export function readStatusFile(path: string): UpStatus | undefined {
  try {
    const v = JSON.parse(readFileSync(path, 'utf8')) as Partial<UpStatus>;
    const ok = typeof v.pid === 'number' && typeof v.state === 'string' && Array.isArray(v.masters) && Array.isArray(v.agents);
    return ok ? (v as UpStatus) : undefined;
  } catch {
    return undefined;
  }
}

export class StatusFile {
  private published = false;
  private warned = false;

  /** `path` undefined: keep the status in memory only. */
  constructor(
    readonly path: string | undefined,
    private readonly status: UpStatus,
  ) {}

  /**
   * A status file left at the path by an earlier run (the pre-flight made sure no running `up`
   * keeps it) is removed, so the file appears again only when this run is up. Anything else at
   * the path is left alone.
   */
  removeStale(): void {
    if (this.path && readStatusFile(this.path)) rmSync(this.path, { force: true });
  }

  get current(): Readonly<UpStatus> {
    return this.status;
  }

  /** Change the status; once published, the file is rewritten. */
  update(change: (s: UpStatus) => void): void {
    change(this.status);
    if (this.published) this.write();
  }

  /** The cluster is up: write the file for the first time. */
  publish(): void {
    this.published = true;
    this.write();
  }

  private write(): void {
    if (!this.path) return;
    const tmp = `${this.path}.${process.pid}.tmp`;
    try {
      mkdirSync(dirname(this.path), { recursive: true });
      // 0600: the status holds a superuser token.
      writeFileSync(tmp, `${JSON.stringify(this.status, null, 2)}\n`, { mode: 0o600 });
      renameSync(tmp, this.path);
    } catch (e) {
      if (!this.warned) process.stderr.write(`sextant up: cannot write --status-file ${this.path}: ${(e as Error).message}\n`);
      this.warned = true;
    }
  }
}
