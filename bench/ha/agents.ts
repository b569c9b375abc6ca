/**
 * N simulated agents in one process, for the failover benchmark. Each speaks the real agent
 * protocol with the real agent's code paths for what the figure measures: it follows the leader
 * with `followLeader` (the agent's ZooKeeper detector, one session per agent, watching the
 * `json.info_` znodes) and registers, heartbeats and re-registers through `Registration`
 * (agent/registration.ts: same retry and backoff). What it leaves out is running processes: a
 * launch is answered at once and reported TASK_RUNNING; a kill reported TASK_KILLED.
 *
 * argv: <zk://.../mesos> <ip> <count>. Stdout, one JSON line each:
 *   {"ready":N}                          every agent follows a leader and is registered
 *   {"reg":i,"master":"ip:port","t":ms}  agent i registered (again) with that master, Date.now()
 * Stdin line "stop" (or its end): every agent stops and the process exits.
 */
import { randomUUID } from 'node:crypto';
import { createInterface } from 'node:readline';
import { agentAuthorization, agentProof, bodyText, createLogger, hashAgentSecret, requestJson, Router, serve, systemClock, type HttpServer } from '../../common/index.js';
import { API, type LaunchRequest, type PingRequest, type RegisterRequest, type TaskState } from '../../contracts/index.js';
import { followLeader, type LeaderFollower } from '../../agent/leader.js';
import { Registration } from '../../agent/registration.js';

const [zk, ip, countArg] = process.argv.slice(2);
if (!zk || !ip || !countArg) throw new Error('usage: agents.ts zk://HOSTS/mesos IP COUNT');
const count = Number(countArg);
const log = createLogger('bench-agents');
const out = (o: unknown) => process.stdout.write(`${JSON.stringify(o)}\n`);

class SimAgent {
  id?: string;
  secret?: string;
  server?: HttpServer;
  follower?: LeaderFollower;
  reg?: Registration;
  readonly tasks = new Map<string, { state: TaskState; seq: number }>();
  registered = false;
  everRegistered = false;

  constructor(readonly n: number) {}

  private auth(): Record<string, string> {
    return this.id && this.secret ? { authorization: agentAuthorization(this.id, this.secret) } : {};
  }

  private async report(taskId: string, state: TaskState): Promise<void> {
    const t = this.tasks.get(taskId) ?? { state, seq: 0 };
    t.state = state;
    t.seq++;
    this.tasks.set(taskId, t);
    const leader = this.follower?.current();
    if (!leader || !this.id) return; // reported at the next registration
    const body = { agent_id: this.id, task_id: taskId, framework_id: '', state, timestamp: Date.now() / 1000, uuid: randomUUID(), seq: t.seq };
    await requestJson(`http://${leader}${API.status}`, { body, headers: this.auth(), timeoutMs: 5000 }).catch(() => undefined);
    if (state === 'TASK_KILLED') this.tasks.delete(taskId);
  }

  async start(): Promise<void> {
    const r = new Router();
    r.post(API.launch, (req) => {
      const { task } = req.body as LaunchRequest;
      if (this.tasks.has(task.task_id)) return { status: 409, json: { message: 'duplicate' } };
      this.tasks.set(task.task_id, { state: 'TASK_STAGING', seq: 0 });
      setImmediate(() => void this.report(task.task_id, 'TASK_RUNNING'));
      return { json: {} };
    });
    r.post(API.kill, (req) => {
      const id = (req.body as { task_id: string }).task_id;
      if (this.tasks.has(id)) setImmediate(() => void this.report(id, 'TASK_KILLED'));
      return { json: {} };
    });
    r.post(API.ping, (req) => {
      const p = req.body as PingRequest;
      if (!this.secret || p.agent_id !== this.id) return { status: 404, json: { message: 'not me' } };
      return { json: { agent_id: this.id, proof: agentProof(hashAgentSecret(this.secret), p.nonce) } };
    });
    this.server = await serve(r, { host: ip!, port: 0 });
    const port = this.server.address().port;
    this.follower = await followLeader(zk!, log, (l) => {
      out({ seen: this.n, leader: l ?? '', t: Date.now() });
      this.reg?.leaderChanged();
    });
    this.reg = new Registration({
      masters: [],
      leader: () => this.follower?.current(),
      clock: systemClock,
      log,
      auth: () => this.auth(),
      // Every registration attempt with its outcome, for the breakdown (failover.ts).
      call: async (url, body, headers) => {
        const t0 = Date.now();
        const register = url.endsWith(API.register);
        try {
          const r = await requestJson(url, { method: 'POST', body, headers: headers ?? {}, timeoutMs: 5000 });
          if (register) out({ try: this.n, t0, t: Date.now(), status: r.status });
          return r;
        } catch (e) {
          if (register) out({ try: this.n, t0, t: Date.now(), err: (e as { cause?: { code?: string } }).cause?.code ?? String(e).slice(0, 80) });
          throw e;
        }
      },
      onUnknown: () => {
        this.id = undefined;
        this.secret = undefined;
      },
      request: (): RegisterRequest => ({
        ...(this.id ? { agent_id: this.id } : {}),
        hostname: `agent${this.n}.bench`,
        ip: ip!,
        port,
        resources: { cpus: 8, mem: 16384, disk: 10000, ports: [[31000, 31999]] },
        attributes: {},
        tasks: [...this.tasks].map(([task_id, t]) => ({ task_id, framework_id: '', state: t.state, timestamp: Date.now() / 1000, seq: t.seq })),
      }),
      onRegistered: (resp) => {
        this.id = resp.agent_id;
        if (resp.agent_secret) this.secret = resp.agent_secret;
        this.registered = true;
        if (!this.everRegistered) (this.everRegistered = true), firstRegistered();
        out({ reg: this.n, master: this.follower?.current() ?? '', t: Date.now() });
      },
      onUnregistered: () => (this.registered = false),
    });
    this.reg.start();
  }

  async stop(): Promise<void> {
    this.reg?.stop();
    await this.follower?.stop();
    await this.server?.close();
  }
}

let registeredCount = 0;
let allRegistered!: () => void;
const all = new Promise<void>((r) => (allRegistered = r));
function firstRegistered(): void {
  if (++registeredCount === count) allRegistered();
}

const agents = Array.from({ length: count }, (_, i) => new SimAgent(i));
// Started a few at a time: 100 ZooKeeper sessions and registrations at once would be a burst the
// benchmark does not measure.
for (let i = 0; i < agents.length; i += 10) await Promise.all(agents.slice(i, i + 10).map((a) => a.start()));
let timer: NodeJS.Timeout | undefined;
await Promise.race([
  all,
  new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`only ${registeredCount} of ${count} agents registered in 120 s`)), 120_000))),
]);
clearTimeout(timer);
out({ ready: count });

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  await Promise.all(agents.map((a) => a.stop().catch((e) => log.warn('stop_failed', { err: bodyText(String(e), 200) }))));
  process.exit(0);
};
createInterface({ input: process.stdin }).on('line', (l) => l.trim() === 'stop' && void stop()).on('close', () => void stop());
