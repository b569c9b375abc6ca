/**
 * ControlClient: the agent side. Watches its preferred master (consistent hashing over the master
 * list), folds each update into the held view, applies the view to the consumers in order (the
 * order is data: l4lb before the dispatcher, so a name never resolves before traffic works), and
 * ACKs or NACKs the version. On a broken stream it reconnects with backoff and resumes from the
 * version it holds; it never clears what consumers have while disconnected (fail static).
 */
import * as grpc from '@grpc/grpc-js';
import { type Clock, systemClock } from '../common/clock.js';
import type { Component } from '../common/daemon.js';
import { createLogger, type Logger } from '../common/log.js';
import { createRegistry, type Registry } from '../common/metrics.js';
import { SerialQueue } from '../common/serial-queue.js';
import { ApplyError } from './errors.js';
import { clientMetrics, type ClientMetrics } from './metrics.js';
import { loadControlProto, type WireAgentMessage, type WireUpdate } from './proto.js';
import { MasterRing } from './ring.js';
import { clientCredentials, type TlsOptions } from './tls.js';
import { consumerRank, PART_NAMES, type PartName, type Snapshot, type SnapshotConsumer } from '../contracts/index.js';
import { HeldView } from './view.js';

export interface ControlClientOptions {
  agentId: string;
  /** `host:port` of the masters' control servers. */
  masters: string[];
  consumers?: SnapshotConsumer[];
  /** Parts to watch besides those the consumers want. */
  parts?: PartName[];
  tls?: TlsOptions;
  clock?: Clock;
  /** Reconnect backoff: initial delay, doubling up to max (defaults 100 ms, 5 s), with jitter. */
  backoff?: { initialMs?: number; maxMs?: number };
  random?: () => number;
  registry?: Registry;
  log?: Logger;
  /** Share one gRPC channel per master across clients (the bench runs thousands in one process). */
  channelOptions?: grpc.ChannelOptions;
}

export interface ClientState {
  connected: boolean;
  master: string | undefined;
  history: string;
  version: number;
  applied: number;
  failed: number | null;
  error: string | null;
  /** Updates received since start, and how many of them were full snapshots. */
  updates: number;
  full_updates: number;
  /** Streams that broke (connection refused, TLS failure, server gone) since start. */
  broken: number;
}

/** Consumers apply in CONSUMER_ORDER (contracts/); others after, as added. The sort is stable. */
function rank(c: SnapshotConsumer): number {
  return consumerRank(c.name);
}

type Call = grpc.ClientDuplexStream<WireAgentMessage, WireUpdate>;

/**
 * The largest update the agent takes (gRPC's default is 4 MiB). A full snapshot at 10,000 VIPs x 3
 * backends is over 4 MiB (the VIPs and their names in `zones`): with the default, the agent's
 * stream broke on it with RESOURCE_EXHAUSTED and reconnected forever, never converging.
 */
export const MAX_UPDATE_BYTES = 256 << 20;

export class ControlClient implements Component {
  readonly name = 'control-client';
  readonly view = new HeldView();
  private readonly consumers: SnapshotConsumer[];
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly metrics: ClientMetrics;
  private ring: MasterRing;
  private readonly clients = new Map<string, grpc.Client>();
  private call: Call | undefined;
  private master: string | undefined;
  private connected = false;
  private running = false;
  private failures = 0;
  private attempt = 0;
  private retryTimer: unknown;
  /** Updates, handled strictly in order. */
  private readonly updatesQueue = new SerialQueue();
  private appliedHistory = '';
  private appliedVersion = 0;
  private failed: { version: number; error: string } | null = null;
  private updates = 0;
  private resubscribe = false;
  private brokenCount = 0;
  private fullUpdates = 0;
  private abort = new AbortController();
  private readonly listeners = new Set<(s: ClientState) => void>();

  constructor(private readonly opts: ControlClientOptions) {
    this.consumers = [...(opts.consumers ?? [])].sort((a, b) => rank(a) - rank(b));
    this.clock = opts.clock ?? systemClock;
    this.log = (opts.log ?? createLogger('control')).child({ agent_id: opts.agentId });
    this.metrics = clientMetrics(opts.registry ?? createRegistry());
    this.ring = new MasterRing(opts.masters);
  }

  /** Add a consumer; it gets the current view on the next version (or now, when one is held). */
  addConsumer(c: SnapshotConsumer): void {
    this.consumers.push(c);
    this.consumers.sort((a, b) => rank(a) - rank(b));
    // Its parts may be new to the view: ask for a full snapshot, which every consumer then applies.
    this.resubscribe = true;
    if (this.running && this.call) this.restartStream('subscriptions changed');
  }

  /** Called after every ACK or NACK and every broken stream (tests, status pages). */
  onState(fn: (s: ClientState) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  state(): ClientState {
    return {
      connected: this.connected,
      master: this.master,
      history: this.view.history,
      version: this.view.version,
      applied: this.appliedVersion,
      failed: this.failed?.version ?? null,
      error: this.failed?.error ?? null,
      updates: this.updates,
      full_updates: this.fullUpdates,
      broken: this.brokenCount,
    };
  }

  snapshot(): Snapshot {
    return this.view.snapshot();
  }

  /** Replace the master list (e.g. from the `masters` part); only agents of a moved share switch. */
  setMasters(masters: string[]): void {
    const next = new MasterRing(masters);
    if (next.masters.join() === this.ring.masters.join()) return;
    this.ring = next;
    if (this.master && this.ring.preferred(this.opts.agentId) !== this.master) this.restartStream('preferred master changed');
  }

  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    this.abort = new AbortController();
    this.connect();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.abort.abort();
    if (this.retryTimer !== undefined) this.clock.clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.call?.cancel();
    this.call = undefined;
    this.setConnected(false);
    await this.updatesQueue.idle();
    for (const c of this.clients.values()) c.close();
    this.clients.clear();
  }

  private parts(): PartName[] {
    const want = new Set<PartName>(this.opts.parts ?? []);
    for (const c of this.consumers) for (const p of c.parts) want.add(p);
    return PART_NAMES.filter((p) => want.has(p));
  }

  private grpcClient(master: string): grpc.Client {
    let c = this.clients.get(master);
    if (!c) {
      const { Client } = loadControlProto();
      c = new Client(master, clientCredentials(this.opts.tls, this.log), { 'grpc.max_receive_message_length': MAX_UPDATE_BYTES, ...this.opts.channelOptions });
      this.clients.set(master, c);
    }
    return c;
  }

  private connect(): void {
    if (!this.running) return;
    const order = this.ring.order(this.opts.agentId);
    if (!order.length) {
      this.log.error('no_masters', {});
      return;
    }
    const master = order[this.attempt % order.length]!;
    this.master = master;
    this.metrics.reconnects.inc();
    const client = this.grpcClient(master) as unknown as { Watch(): Call };
    const call = client.Watch();
    this.call = call;
    call.on('data', (u: WireUpdate) => this.onUpdate(call, u));
    call.on('error', (e: grpc.ServiceError) => this.onBroken(call, e));
    call.on('end', () => this.onBroken(call, undefined));
    const [history, version] = this.resubscribe ? ['', 0] : [this.view.history, this.view.version];
    this.resubscribe = false;
    call.write({ msg: 'hello', hello: { agent_id: this.opts.agentId, history, version, parts: this.parts() } });
    this.log.debug('watching', { master, history: this.view.history, version: this.view.version });
  }

  private restartStream(why: string): void {
    this.log.info('restart_stream', { why });
    const call = this.call;
    this.call = undefined;
    call?.cancel();
    this.setConnected(false);
    this.attempt = 0;
    this.failures = 0;
    this.connect();
  }

  private onBroken(call: Call, e: grpc.ServiceError | undefined): void {
    if (call !== this.call) return;
    this.call = undefined;
    this.setConnected(false);
    if (!this.running) return;
    // The view (and what consumers applied) stays as it is: fail static.
    const delay = this.backoffDelay();
    this.failures++;
    this.attempt++;
    this.log.warn('stream_broken', { master: this.master, code: e?.code, error: e?.details ?? 'stream ended', retry_ms: Math.round(delay) });
    this.retryTimer = this.clock.setTimeout(() => {
      this.retryTimer = undefined;
      this.connect();
    }, delay);
    this.brokenCount++;
    this.notify();
  }

  private backoffDelay(): number {
    const initial = this.opts.backoff?.initialMs ?? 100;
    const max = this.opts.backoff?.maxMs ?? 5000;
    const base = Math.min(max, initial * 2 ** Math.min(this.failures, 20));
    return base * (0.5 + 0.5 * (this.opts.random ?? Math.random)());
  }

  private setConnected(v: boolean): void {
    this.connected = v;
    this.metrics.connected.set(v ? 1 : 0);
  }

  /** Updates are handled strictly in order; several queued ones are applied to consumers once. */
  private onUpdate(call: Call, u: WireUpdate): void {
    void this.updatesQueue.run(() => this.handle(call, u)).catch((err) => this.log.error('update_failed', { err }));
  }

  private async handle(call: Call, u: WireUpdate): Promise<void> {
    if (call !== this.call) return;
    if (!this.connected) {
      this.setConnected(true);
      this.failures = 0;
      this.attempt = 0;
    }
    this.updates++;
    if (u.full) this.fullUpdates++;
    const cpu0 = process.cpuUsage();
    const observeCpu = () => {
      const d = process.cpuUsage(cpu0);
      this.metrics.updateCpu.observe((d.user + d.system) / 1e6);
    };
    let changed: boolean;
    try {
      changed = this.view.apply(u).changed;
    } catch (e) {
      // The stream and the view disagree (or the master sent garbage): start over from scratch.
      this.log.error('bad_update', { err: e, version: u.version });
      this.view.history = '';
      this.view.version = 0;
      this.restartStream('bad update');
      return;
    }
    if (this.updatesQueue.size > 1) return observeCpu(); // a newer update is queued: it applies the whole view once
    const version = this.view.version;
    const history = this.view.history;
    const current = !changed && history === this.appliedHistory && version === this.appliedVersion && !this.failed;
    const error = current ? undefined : await this.applyConsumers();
    observeCpu();
    if (error) {
      this.failed = { version, error };
      this.metrics.nacks.inc();
      this.log.warn('apply_failed', { version, error });
    } else {
      this.failed = null;
      this.appliedHistory = history;
      this.appliedVersion = version;
      this.metrics.applied.set(version);
    }
    if (call === this.call) call.write({ msg: 'ack', ack: { version, error: error ?? '' } });
    this.notify();
  }

  private notify(): void {
    const s = this.state();
    for (const fn of this.listeners) fn(s);
  }

  /** Apply the view to every consumer in order; stop at the first failure and return its error. */
  private async applyConsumers(): Promise<string | undefined> {
    const view = this.view.snapshot();
    const end = this.metrics.applyDuration.startTimer();
    try {
      for (const c of this.consumers) {
        try {
          await c.apply(view, this.abort.signal);
        } catch (e) {
          return new ApplyError(c.name, view.version, e).message;
        }
      }
      return undefined;
    } finally {
      end();
    }
  }
}
