/** master -> agent calls (launch, kill, ping) over the agent's HTTP API. */
import { bodyText, requestJson } from '../common/index.js';
import { API, type KillRequest, type LaunchRequest, type PingRequest, type PingResponse } from '../contracts/index.js';
import type { AgentRecord } from './model.js';

export interface AgentClient {
  launch(agent: AgentRecord, req: LaunchRequest): Promise<void>;
  kill(agent: AgentRecord, req: KillRequest): Promise<void>;
  /** The registration callback: the agent at agent.ip:port answers with its id and proof. */
  ping(agent: AgentRecord, req: PingRequest): Promise<PingResponse>;
}

export class AgentCallError extends Error {
  override name = 'AgentCallError';
}

function base(a: AgentRecord): string {
  return `http://${a.ip.includes(':') ? `[${a.ip}]` : a.ip}:${a.port}`;
}

export class HttpAgentClient implements AgentClient {
  constructor(private readonly timeoutMs = 5000) {}

  async launch(agent: AgentRecord, req: LaunchRequest): Promise<void> {
    const r = await requestJson(base(agent) + API.launch, { body: req, timeoutMs: this.timeoutMs });
    // 409: the agent already has it (a retried launch) -- that is success.
    if (r.status !== 200 && r.status !== 409) throw new AgentCallError(`agent ${agent.agent_id} refused launch of ${req.task.task_id}: HTTP ${r.status} ${JSON.stringify(r.body)}`);
  }

  async kill(agent: AgentRecord, req: KillRequest): Promise<void> {
    const r = await requestJson(base(agent) + API.kill, { body: req, timeoutMs: this.timeoutMs });
    if (r.status !== 200) throw new AgentCallError(`agent ${agent.agent_id} refused kill of ${req.task_id}: HTTP ${r.status}`);
  }

  async ping(agent: AgentRecord, req: PingRequest): Promise<PingResponse> {
    const r = await requestJson(base(agent) + API.ping, { body: req, timeoutMs: Math.min(this.timeoutMs, 3000) });
    const b = r.body as Partial<PingResponse> | undefined;
    if (r.status !== 200 || typeof b?.agent_id !== 'string' || typeof b.proof !== 'string') throw new AgentCallError(`agent ${agent.agent_id} at ${base(agent)} did not answer the ping: HTTP ${r.status} ${bodyText(r.body, 200)}`);
    return { agent_id: b.agent_id, proof: b.proof };
  }
}
