/**
 * Worker processes for a dispatcher with `workers: N`: N-1 children of the dispatcher's process,
 * each answering UDP on the same sockets (handed over by file descriptor: dgram sockets over IPC,
 * native batch sockets as inherited descriptors; the kernel gives each datagram to one of them).
 * The first process keeps TCP, the spartan interface, resolv.conf and the metrics endpoint, and is the only one fed by the control plane: it pushes zones and Mesos-DNS
 * resolvers to every child and waits for each to acknowledge, so an applied snapshot is answered
 * by every process. A child that dies is started again; a child whose parent is gone exits.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import type { Logger } from '../../common/log.js';
import { siblingPath } from '../../common/sibling.js';
import type { ZoneRecord } from '../../contracts/index.js';
import type { DispatcherConfig } from './config.js';
import type { Endpoint } from './endpoint.js';
import type { SharedUdp } from './server.js';
import type { ZoneDelta } from './zone-delta.js';

export type ZoneInput = Pick<ZoneRecord, 'name' | 'type' | 'data'>;

/** A DispatcherConfig as JSON can carry it (the forward zones Map as entries). */
export type WireConfig = Omit<DispatcherConfig, 'forwardZones'> & { forwardZones: [string, Endpoint[]][] };

export const toWire = (c: DispatcherConfig): WireConfig => ({ ...c, forwardZones: [...c.forwardZones] });
export const fromWire = (c: WireConfig): DispatcherConfig => ({ ...c, forwardZones: new Map(c.forwardZones) });

/** What a (re)started child needs before it takes queries. */
export interface WorkerState {
  config: WireConfig;
  zones: ZoneInput[];
  /** Counts the parent's zone lists: a delta names the one it applies to (none: the child takes only whole lists). */
  zonesVersion?: number;
  mesos: Endpoint[];
  /** The elected master the parent follows (its resolver is first in `mesos`). */
  mesosLeader?: string;
}

/** A zones update for the children: the whole list, or the change from the list they hold. */
export type ZonesMessage = { t: 'zones'; zones: ZoneInput[]; version?: number } | ({ t: 'zones-delta'; from: number; to: number } & ZoneDelta);

/** Parent -> child. Every message is answered with an `ack` of its seq (`metrics`: with the metrics; a failure: with `error`). */
export type ToWorker =
  | ({ t: 'init'; seq: number; slot: number } & WorkerState)
  | { t: 'udp'; seq: number; native?: { ip: string; fd: number } }
  | { t: 'serve'; seq: number }
  | ({ seq: number } & ZonesMessage)
  | { t: 'mesos'; seq: number; mesos: Endpoint[]; leader?: string }
  | { t: 'metrics'; seq: number };

export type FromWorker = { t: 'ack'; seq: number; metrics?: unknown[]; error?: string };

export interface WorkerPoolOptions {
  /** Child processes to run (workers - 1). */
  count: number;
  sockets: SharedUdp[];
  /** The state a child starts from (read at every start, so a respawned child is current). */
  state(): WorkerState;
  log: Logger;
  /** Wait before starting a dead child again, ms. */
  respawnMs?: number;
  /** How long a child may take to start or to acknowledge, ms. */
  replyTimeoutMs?: number;
}

const ENTRY = siblingPath(import.meta.url, 'worker-main');

/** Where a child finds its first inherited socket (after stdin, stdout, stderr and the IPC channel). */
const FIRST_FD = 4;

class Worker {
  readonly waiting = new Map<number, (m: FromWorker | undefined) => void>();
  ready = false;
  constructor(
    readonly slot: number,
    readonly proc: ChildProcess,
  ) {}

  /** Resolves with the reply, or undefined if the child is gone or too slow. */
  ask(msg: ToWorker, timeoutMs: number, handle?: SharedUdp): Promise<FromWorker | undefined> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => done(undefined), timeoutMs);
      const done = (m: FromWorker | undefined) => {
        clearTimeout(timer);
        this.waiting.delete(msg.seq);
        resolve(m);
      };
      this.waiting.set(msg.seq, done);
      try {
        this.proc.send(msg, handle as never, (err) => err && done(undefined));
      } catch {
        done(undefined);
      }
    });
  }

  gone(): void {
    for (const done of [...this.waiting.values()]) done(undefined);
  }
}

/** Events: `ready` (slot, pid) when a child takes queries, `exit` (slot, pid) when one ends. */
export class WorkerPool extends EventEmitter {
  private readonly workers = new Map<number, Worker>();
  private seq = 0;
  /** Counts broadcasts: a child that started meanwhile missed them and is sent the state again. */
  private generation = 0;
  private stopping = false;
  private readonly respawnMs: number;
  private readonly timeoutMs: number;
  private readonly respawns = new Set<NodeJS.Timeout>();

  constructor(private readonly opts: WorkerPoolOptions) {
    super();
    this.respawnMs = opts.respawnMs ?? 500;
    this.timeoutMs = opts.replyTimeoutMs ?? 30_000;
  }

  /** Start every child; rejects, naming the child, if one cannot start (the others are stopped). */
  async start(): Promise<void> {
    const slots = Array.from({ length: this.opts.count }, (_, i) => i + 1);
    const results = await Promise.all(slots.map((slot) => this.spawn(slot).then(() => undefined, (e: Error) => e)));
    const failed = results.find((e) => e);
    if (failed) {
      await this.stop();
      throw failed;
    }
  }

  /** Children answering queries now. */
  live(): number {
    return this.pids().length;
  }

  pids(): number[] {
    return [...this.workers.values()].filter((w) => w.ready).map((w) => w.proc.pid!);
  }

  /**
   * Send to every ready child and wait for their acknowledgements (a child that dies meanwhile
   * restarts from state()). A child that fails a zones delta is sent the whole list from state().
   */
  async broadcast(msg: ZonesMessage | { t: 'mesos'; mesos: Endpoint[]; leader?: string | undefined }): Promise<void> {
    this.generation++;
    await Promise.all(
      [...this.workers.values()]
        .filter((w) => w.ready)
        .map(async (w) => {
          let r = await w.ask({ ...msg, seq: ++this.seq }, this.timeoutMs);
          if (r?.error && msg.t === 'zones-delta') {
            this.opts.log.warn('dispatcher_worker_delta_failed', { slot: w.slot, pid: w.proc.pid, error: r.error, fallback: 'the whole list' });
            const { zones, zonesVersion } = this.opts.state();
            r = await w.ask({ t: 'zones', zones, version: zonesVersion, seq: ++this.seq }, this.timeoutMs);
          }
          if (r?.error) this.opts.log.warn('dispatcher_worker_update_failed', { slot: w.slot, pid: w.proc.pid, error: r.error });
        }),
    );
  }

  /** Each ready child's metrics (prom-client JSON), for merging at scrape time; slow children are left out. */
  async metrics(): Promise<{ pid: number; metrics: unknown[] }[]> {
    const replies = await Promise.all(
      [...this.workers.values()].filter((w) => w.ready).map(async (w) => ({ pid: w.proc.pid!, r: await w.ask({ t: 'metrics', seq: ++this.seq }, 2000) })),
    );
    return replies.filter((x) => x.r?.metrics).map((x) => ({ pid: x.pid, metrics: x.r!.metrics! }));
  }

  async stop(): Promise<void> {
    this.stopping = true;
    for (const t of this.respawns) clearTimeout(t);
    this.respawns.clear();
    await Promise.all(
      [...this.workers.values()].map(
        (w) =>
          new Promise<void>((resolve) => {
            if (w.proc.exitCode !== null || w.proc.signalCode !== null) return resolve();
            w.proc.once('exit', () => resolve());
            w.proc.kill('SIGTERM');
            setTimeout(() => w.proc.kill('SIGKILL'), 5000).unref();
          }),
      ),
    );
    this.workers.clear();
  }

  private async spawn(slot: number): Promise<void> {
    // Native sockets are inherited: the child finds the i-th at descriptor FIRST_FD + i.
    const fds = this.opts.sockets.flatMap((s) => ('fd' in s ? [s.fd] : []));
    const proc = fork(ENTRY, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc', ...fds] });
    const w = new Worker(slot, proc);
    this.workers.set(slot, w);
    proc.on('message', (m: FromWorker) => {
      if (m && m.t === 'ack') w.waiting.get(m.seq)?.(m);
    });
    proc.on('error', (err) => this.opts.log.warn('dispatcher_worker_error', { slot, err }));
    proc.once('exit', (code, signal) => this.exited(w, code, signal));
    const fail = (what: string, r?: FromWorker) => new Error(`dispatcher worker ${slot} did not start: ${r?.error ?? `no answer to '${what}' within ${this.timeoutMs} ms (exit ${proc.exitCode ?? proc.signalCode ?? 'none'})`}`);
    try {
      let gen = this.generation;
      const init = await w.ask({ t: 'init', seq: ++this.seq, slot, ...this.opts.state() }, this.timeoutMs);
      if (!init || init.error) throw fail('init', init);
      let inherited = 0;
      for (const s of this.opts.sockets) {
        const r =
          'fd' in s
            ? await w.ask({ t: 'udp', seq: ++this.seq, native: { ip: s.ip, fd: FIRST_FD + inherited++ } }, this.timeoutMs)
            : await w.ask({ t: 'udp', seq: ++this.seq }, this.timeoutMs, s);
        if (!r || r.error) throw fail('udp', r);
      }
      // Updates broadcast while this child was starting did not reach it: send the state again.
      while (gen !== this.generation) {
        gen = this.generation;
        const { zones, zonesVersion, mesos, mesosLeader } = this.opts.state();
        for (const m of [{ t: 'zones' as const, zones, version: zonesVersion }, { t: 'mesos' as const, mesos, leader: mesosLeader }]) {
          const r = await w.ask({ ...m, seq: ++this.seq }, this.timeoutMs);
          if (!r || r.error) throw fail(m.t, r);
        }
      }
      // From here on broadcasts include this child (no await since the check above), and reach it after 'serve'.
      w.ready = true;
      const serve = await w.ask({ t: 'serve', seq: ++this.seq }, this.timeoutMs);
      if (!serve || serve.error) throw fail('serve', serve);
    } catch (e) {
      w.ready = false;
      proc.kill('SIGKILL');
      throw e;
    }
    this.opts.log.info('dispatcher_worker_started', { slot, pid: proc.pid });
    this.emit('ready', slot, proc.pid);
  }

  private exited(w: Worker, code: number | null, signal: NodeJS.Signals | null): void {
    w.ready = false;
    w.gone();
    this.emit('exit', w.slot, w.proc.pid);
    if (this.workers.get(w.slot) === w && !this.stopping) {
      this.workers.delete(w.slot);
      this.opts.log.warn('dispatcher_worker_exited', { slot: w.slot, pid: w.proc.pid, code, signal, restart_in_ms: this.respawnMs });
      const t = setTimeout(() => {
        this.respawns.delete(t);
        if (this.stopping) return;
        // A child that cannot start is killed, and its exit schedules the next try.
        this.spawn(w.slot).catch((err) => this.opts.log.error('dispatcher_worker_restart_failed', { slot: w.slot, err }));
      }, this.respawnMs);
      this.respawns.add(t);
    }
  }
}
