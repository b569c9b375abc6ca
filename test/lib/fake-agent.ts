/**
 * A scripted agent for master tests: speaks the contracts/protocol.ts API over real HTTP (with the
 * secret the master issues, per-task sequence numbers, and an answer to the registration ping),
 * records launches and kills, and reports statuses when told to (or at once, with autoRun).
 */
import { randomUUID } from 'node:crypto';
import { agentAuthorization, agentProof, hashAgentSecret, Router, requestJson, serve, type HttpServer } from '../../common/index.js';
import { API, type LaunchRequest, type PingRequest, type RegisterResponse, type TaskInfo, type TaskReport, type TaskState } from '../../contracts/index.js';

export interface FakeAgentOptions {
  ip: string;
  master: string;
  hostname?: string;
  attributes?: Record<string, string>;
  cpus?: number;
  mem?: number;
  ports?: [number, number][];
  /** Report TASK_RUNNING right after a launch (default true). */
  autoRun?: boolean;
  /** Answer the master's registration ping (default true). */
  answerPing?: boolean;
  /** Register with this API port instead of its own (a spoofer claiming another agent's address). */
  advertisePort?: number;
}

export class FakeAgent {
  id?: string;
  server?: HttpServer;
  readonly launched: TaskInfo[] = [];
  readonly killed: string[] = [];
  /** Tasks this agent runs now, by id. */
  readonly running = new Map<string, TaskState>();
  autoRun: boolean;
  secret?: string;
  /** Last sequence number sent per task. */
  readonly seqs = new Map<string, number>();
  private registering?: Promise<unknown>;
  /** Pings received from the master. */
  pings = 0;

  constructor(readonly o: FakeAgentOptions) {
    this.autoRun = o.autoRun ?? true;
  }

  get port(): number {
    return this.server!.address().port;
  }

  async start(): Promise<void> {
    const r = new Router();
    r.post(API.launch, (req) => {
      const { task } = req.body as LaunchRequest;
      if (this.running.has(task.task_id)) return { status: 409, json: { message: 'duplicate' } };
      this.launched.push(task);
      this.running.set(task.task_id, 'TASK_STAGING');
      if (this.autoRun) setImmediate(() => void this.report(task.task_id, 'TASK_RUNNING').catch(() => undefined));
      return { json: {} };
    });
    r.post(API.kill, (req) => {
      const id = (req.body as { task_id: string }).task_id;
      this.killed.push(id);
      if (this.running.has(id)) setImmediate(() => void this.report(id, 'TASK_KILLED').catch(() => undefined));
      return { json: {} };
    });
    r.post(API.ping, async (req) => {
      const p = req.body as PingRequest;
      this.pings++;
      if (this.o.answerPing === false) return { status: 503, json: { message: 'not answering' } };
      await this.registering;
      if (!this.secret || p.agent_id !== this.id) return { status: 404, json: { message: 'not me' } };
      return { json: { agent_id: this.id, proof: agentProof(hashAgentSecret(this.secret), p.nonce) } };
    });
    this.server = await serve(r, { host: this.o.ip, port: 0 });
  }

  /** The Authorization header with this agent's credentials (none before registration). */
  headers(): Record<string, string> {
    return this.id && this.secret ? { authorization: agentAuthorization(this.id, this.secret) } : {};
  }

  nextSeq(taskId: string): number {
    const n = (this.seqs.get(taskId) ?? 0) + 1;
    this.seqs.set(taskId, n);
    return n;
  }

  async register(extraTasks: TaskReport[] = []): Promise<RegisterResponse> {
    const tasks: TaskReport[] = [...this.running].map(([task_id, state]) => ({ task_id, framework_id: '', state, timestamp: Date.now() / 1000, seq: this.nextSeq(task_id) }));
    const call = requestJson(`http://${this.o.master}${API.register}`, {
      headers: this.headers(),
      body: {
        ...(this.id ? { agent_id: this.id } : {}),
        hostname: this.o.hostname ?? this.o.ip,
        ip: this.o.ip,
        port: this.o.advertisePort ?? this.port,
        resources: { cpus: this.o.cpus ?? 4, mem: this.o.mem ?? 4096, disk: 1000, ports: this.o.ports ?? [[31000, 31099]] },
        attributes: this.o.attributes ?? {},
        tasks: [...tasks, ...extraTasks],
      },
    });
    this.registering = call.catch(() => undefined);
    const res = await call;
    if (res.status !== 200) throw new Error(`register: HTTP ${res.status} ${JSON.stringify(res.body)}`);
    const body = res.body as RegisterResponse;
    this.id = body.agent_id;
    if (body.agent_secret) this.secret = body.agent_secret;
    return body;
  }

  async heartbeat(): Promise<number> {
    return (await requestJson(`http://${this.o.master}${API.heartbeat}`, { body: { agent_id: this.id }, headers: this.headers() })).status;
  }

  async report(taskId: string, state: TaskState, extra: { healthy?: boolean; uuid?: string; seq?: number } = {}): Promise<number> {
    if (['TASK_FINISHED', 'TASK_FAILED', 'TASK_KILLED', 'TASK_LOST'].includes(state)) this.running.delete(taskId);
    else this.running.set(taskId, state);
    const res = await requestJson(`http://${this.o.master}${API.status}`, {
      headers: this.headers(),
      body: { agent_id: this.id, task_id: taskId, framework_id: '', state, timestamp: Date.now() / 1000, uuid: extra.uuid ?? randomUUID(), seq: extra.seq ?? this.nextSeq(taskId), ...(extra.healthy !== undefined ? { healthy: extra.healthy } : {}) },
    });
    return res.status;
  }

  async stop(): Promise<void> {
    await this.server?.close();
  }
}
