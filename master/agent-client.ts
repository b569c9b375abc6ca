/** master -> agent calls (launch, kill, ping) over the agent's HTTP API. */
import { bodyText, identityFromSan, identityUri, requestJson, type ClientTls, type TlsMaterial } from '../common/index.js';
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

export class HttpAgentClient implements AgentClient {
  /** With `tls`: https, presenting the master's certificate, and only to the agent the record names. */
  constructor(
    private readonly timeoutMs = 5000,
    private readonly tls?: TlsMaterial,
  ) {}

  private opts(a: AgentRecord): { tls?: ClientTls } {
    if (!this.tls) return {};
    const want = identityUri('agent', a.agent_id);
    return {
      tls: {
        ...this.tls,
        checkServerIdentity: (_host, cert) => (identityFromSan(cert.subjectaltname)?.uri === want ? undefined : new Error(`the server at ${a.ip}:${a.port} is not agent ${a.agent_id} (its certificate names ${identityFromSan(cert.subjectaltname)?.uri ?? 'no cluster identity'})`)),
      },
    };
  }

  private base(a: AgentRecord): string {
    return `${this.tls ? 'https' : 'http'}://${a.ip.includes(':') ? `[${a.ip}]` : a.ip}:${a.port}`;
  }

  async launch(agent: AgentRecord, req: LaunchRequest): Promise<void> {
    const r = await requestJson(this.base(agent) + API.launch, { body: req, timeoutMs: this.timeoutMs, ...this.opts(agent) });
    // 409: the agent already has it (a retried launch) -- that is success.
    if (r.status !== 200 && r.status !== 409) throw new AgentCallError(`agent ${agent.agent_id} refused launch of ${req.task.task_id}: HTTP ${r.status} ${JSON.stringify(r.body)}`);
  }

  async kill(agent: AgentRecord, req: KillRequest): Promise<void> {
    const r = await requestJson(this.base(agent) + API.kill, { body: req, timeoutMs: this.timeoutMs, ...this.opts(agent) });
    if (r.status !== 200) throw new AgentCallError(`agent ${agent.agent_id} refused kill of ${req.task_id}: HTTP ${r.status}`);
  }

  async ping(agent: AgentRecord, req: PingRequest): Promise<PingResponse> {
    const r = await requestJson(this.base(agent) + API.ping, { body: req, timeoutMs: Math.min(this.timeoutMs, 3000), ...this.opts(agent) });
    const b = r.body as Partial<PingResponse> | undefined;
    if (r.status !== 200 || typeof b?.agent_id !== 'string' || typeof b.proof !== 'string') throw new AgentCallError(`agent ${agent.agent_id} at ${this.base(agent)} did not answer the ping: HTTP ${r.status} ${bodyText(r.body, 200)}`);
    return { agent_id: b.agent_id, proof: b.proof };
  }
}
