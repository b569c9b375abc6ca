/**
 * A scripted agent for master tests: speaks the contracts/protocol.ts API over real HTTP, records
 * launches and kills, and reports statuses when told to (or at once, with autoRun).
 */
import { randomUUID } from 'node:crypto';
import { Router, requestJson, serve, type HttpServer } from '../../common/index.js';
import { API, type LaunchRequest, type RegisterResponse, type TaskInfo, type TaskReport, type TaskState } from '../../contracts/index.js';

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
}

export class FakeAgent {
  id?: string;
  server?: HttpServer;
  readonly launched: TaskInfo[] = [];
  readonly killed: string[] = [];
  /** Tasks this agent runs now, by id. */
  readonly running = new Map<string, TaskState>();
  autoRun: boolean;

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
    this.server = await serve(r, { host: this.o.ip, port: 0 });
  }

  async register(extraTasks: TaskReport[] = []): Promise<RegisterResponse> {
    const tasks: TaskReport[] = [...this.running].map(([task_id, state]) => ({ task_id, framework_id: '', state, timestamp: Date.now() / 1000 }));
    const res = await requestJson(`http://${this.o.master}${API.register}`, {
      body: {
        ...(this.id ? { agent_id: this.id } : {}),
        hostname: this.o.hostname ?? this.o.ip,
        ip: this.o.ip,
        port: this.port,
        resources: { cpus: this.o.cpus ?? 4, mem: this.o.mem ?? 4096, disk: 1000, ports: this.o.ports ?? [[31000, 31099]] },
        attributes: this.o.attributes ?? {},
        tasks: [...tasks, ...extraTasks],
      },
    });
    if (res.status !== 200) throw new Error(`register: HTTP ${res.status} ${JSON.stringify(res.body)}`);
    const body = res.body as RegisterResponse;
    this.id = body.agent_id;
    return body;
  }

  async heartbeat(): Promise<number> {
    return (await requestJson(`http://${this.o.master}${API.heartbeat}`, { body: { agent_id: this.id } })).status;
  }

  async report(taskId: string, state: TaskState, extra: { healthy?: boolean; uuid?: string } = {}): Promise<number> {
    if (['TASK_FINISHED', 'TASK_FAILED', 'TASK_KILLED', 'TASK_LOST'].includes(state)) this.running.delete(taskId);
    else this.running.set(taskId, state);
    const res = await requestJson(`http://${this.o.master}${API.status}`, {
      body: { agent_id: this.id, task_id: taskId, framework_id: '', state, timestamp: Date.now() / 1000, uuid: extra.uuid ?? randomUUID(), ...(extra.healthy !== undefined ? { healthy: extra.healthy } : {}) },
    });
    return res.status;
  }

  async stop(): Promise<void> {
    await this.server?.close();
  }
}
