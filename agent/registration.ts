/**
 * Registration with the master and heartbeats. The agent registers (with its running tasks), then
 * heartbeats every heartbeat_interval_ms the master asked for. It registers again when the master
 * answers 404 (it forgot us) or after heartbeats failed and the master is back (it may have
 * restarted). With several masters it moves to the next one when one fails. With `leader` (the
 * elected master, found through ZooKeeper) it talks to the leader only, and leaderChanged()
 * re-registers with a new one at once (reporting the running tasks). Every call but a
 * first registration carries the agent's credentials (`auth()`); a master that answers 403
 * `unknown_agent` to a re-registration has forgotten this agent, so `onUnknown` drops the id and
 * secret and the agent registers as a new one.
 */
import type { Clock } from '../common/clock.js';
import { bodyText, requestJson, type ClientTls } from '../common/http.js';
import type { Logger } from '../common/log.js';
import { API, type RegisterRequest, type RegisterResponse } from '../contracts/index.js';

export type CallMaster = (url: string, body: unknown, headers?: Record<string, string>) => Promise<{ status: number; body: unknown }>;

export interface RegistrationOptions {
  masters: string[];
  /** The elected master's `host:port` (undefined while none is): used instead of `masters`. */
  leader?: () => string | undefined;
  clock: Clock;
  log: Logger;
  /** What to send on (re-)registration: built fresh each time (current tasks). */
  request(): RegisterRequest;
  onRegistered(resp: RegisterResponse, reregistered: boolean): void;
  /** Registration is no longer valid (404): hold status updates until onRegistered. */
  onUnregistered?(): void;
  onHeartbeat?(ok: boolean): void;
  /** Headers carrying the agent's credentials (empty before the first registration). */
  auth?(): Record<string, string>;
  /** The master does not know the id we re-registered with: forget id and secret. */
  onUnknown?(): void;
  call?: CallMaster;
  /** Mutual TLS towards the master (https; the CA and, once it has one, the agent's certificate). */
  tls?: () => ClientTls;
  retryMs?: number;
  timeoutMs?: number;
  /** Uniform in [0, 1): the jitter of retries after a leader (default Math.random). */
  random?: () => number;
}

/**
 * Following an elected leader, a failed registration is retried after 50 ms, doubling up to 400 ms,
 * each delay jittered to 0.5-1.5 times: the new leader is known to exist and most likely still
 * loading its state, so the first retries come soon, and 100 agents that saw it at the same moment
 * do not all come back in the same millisecond.
 */
export const LEADER_RETRY_FIRST_MS = 50;
export const LEADER_RETRY_MAX_MS = 400;

export class Registration {
  private idx = 0;
  private timer: unknown;
  private stopped = true;
  private registered = false;
  private everRegistered = false;
  private heartbeatMs = 1000;
  private suspect = false;
  private retry: number;
  /** Retries after a leader since the last success (LEADER_RETRY_*). */
  private leaderFailures = 0;
  agentId: string | undefined;
  masterId: string | undefined;

  constructor(private readonly opts: RegistrationOptions) {
    this.retry = opts.retryMs ?? 250;
  }

  get master(): string {
    if (this.opts.leader) return this.opts.leader() ?? '';
    return this.opts.masters[this.idx % this.opts.masters.length]!;
  }

  /** The elected master changed: register with the new one now (a no-op while none is elected). */
  leaderChanged(): void {
    if (this.stopped || !this.opts.leader?.()) return;
    this.reregister('a new master was elected');
  }

  isRegistered(): boolean {
    return this.registered;
  }

  start(): void {
    this.stopped = false;
    this.schedule(() => this.register(), 0);
  }

  stop(): void {
    this.stopped = true;
    this.opts.clock.clearTimeout(this.timer);
  }

  private call(path: string, body: unknown): Promise<{ status: number; body: unknown }> {
    if (!this.master) return Promise.reject(new Error('no master is elected (waiting for ZooKeeper to name a leader)'));
    const url = `${this.opts.tls ? 'https' : 'http'}://${this.master}${path}`;
    const headers = this.opts.auth?.() ?? {};
    if (this.opts.call) return this.opts.call(url, body, headers);
    return requestJson(url, { method: 'POST', body, headers, timeoutMs: this.opts.timeoutMs ?? 5000, ...(this.opts.tls ? { tls: this.opts.tls() } : {}) });
  }

  private schedule(fn: () => Promise<void>, ms: number): void {
    if (this.stopped) return;
    this.opts.clock.clearTimeout(this.timer);
    this.timer = this.opts.clock.setTimeout(() => void fn(), ms);
  }

  private async register(): Promise<void> {
    if (this.stopped) return;
    const req = this.opts.request();
    let res: { status: number; body: unknown };
    try {
      res = await this.call(API.register, req);
    } catch (e) {
      return this.registerFailed(`${(e as Error).message}`);
    }
    if (this.stopped) return;
    const body = res.body as Partial<RegisterResponse> | undefined;
    if (res.status === 403 && req.agent_id && (res.body as { reason?: unknown } | undefined)?.reason === 'unknown_agent') {
      this.opts.log.warn('agent_unknown_to_master', { agent_id: req.agent_id, master: this.master, then: 'registering as a new agent' });
      this.opts.onUnknown?.();
      return this.schedule(() => this.register(), 0);
    }
    if (res.status !== 200 || typeof body?.agent_id !== 'string' || !body.agent_id) {
      return this.registerFailed(`HTTP ${res.status} ${bodyText(res.body, 200)}`);
    }
    const resp: RegisterResponse = {
      agent_id: body.agent_id,
      master_id: String(body.master_id ?? ''),
      heartbeat_interval_ms: typeof body.heartbeat_interval_ms === 'number' && body.heartbeat_interval_ms > 0 ? body.heartbeat_interval_ms : 1000,
      ...(typeof body.agent_secret === 'string' && body.agent_secret ? { agent_secret: body.agent_secret } : {}),
      ...(body.pending === true ? { pending: true } : {}),
      ...(typeof body.certificate === 'string' && body.certificate ? { certificate: body.certificate } : {}),
    };
    const again = this.everRegistered;
    this.agentId = resp.agent_id;
    this.masterId = resp.master_id;
    this.heartbeatMs = resp.heartbeat_interval_ms;
    this.registered = true;
    this.everRegistered = true;
    this.suspect = false;
    this.retry = this.opts.retryMs ?? 250;
    this.leaderFailures = 0;
    this.opts.log.info(again ? 'agent_reregistered' : 'agent_registered', { agent_id: resp.agent_id, master: this.master, master_id: resp.master_id, tasks: req.tasks.length });
    this.opts.onRegistered(resp, again);
    this.schedule(() => this.heartbeat(), this.heartbeatMs);
  }

  private registerFailed(why: string): void {
    this.opts.log.warn('agent_register_failed', { master: this.master, why });
    this.idx++;
    if (this.opts.leader) {
      // Soon and jittered (LEADER_RETRY_*): a fixed 250 ms put every agent in lockstep after a failover.
      const base = Math.min(LEADER_RETRY_MAX_MS, LEADER_RETRY_FIRST_MS * 2 ** Math.min(this.leaderFailures++, 10));
      return this.schedule(() => this.register(), Math.round(base * (0.5 + (this.opts.random ?? Math.random)())));
    }
    // A list of masters backs off up to 5 s.
    const wait = this.retry;
    this.retry = Math.min(this.retry * 2, 5000);
    this.schedule(() => this.register(), wait);
  }

  private async heartbeat(): Promise<void> {
    if (this.stopped) return;
    let status = 0;
    try {
      status = (await this.call(API.heartbeat, { agent_id: this.agentId })).status;
    } catch (e) {
      this.opts.log.debug('heartbeat_failed', { master: this.master, err: e });
    }
    if (this.stopped) return;
    this.opts.onHeartbeat?.(status === 200);
    if (status === 404) return this.reregister('master does not know this agent');
    if (status === 401 || status === 403) return this.reregister(`master refused our credentials (HTTP ${status})`);
    if (status === 200) {
      if (this.suspect) return this.reregister('master is back after failed heartbeats');
      return this.schedule(() => this.heartbeat(), this.heartbeatMs);
    }
    if (!this.suspect) this.opts.log.warn('heartbeat_failing', { master: this.master, status });
    this.suspect = true;
    if (this.opts.masters.length > 1) return this.reregister('trying another master', true);
    this.schedule(() => this.heartbeat(), this.heartbeatMs);
  }

  private reregister(why: string, rotate = false): void {
    this.opts.log.info('agent_reregistering', { why, master: this.master });
    if (rotate) this.idx++;
    this.registered = false;
    this.retry = this.opts.retryMs ?? 250;
    this.leaderFailures = 0;
    this.opts.onUnregistered?.();
    this.schedule(() => this.register(), 0);
  }
}
