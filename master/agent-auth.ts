/**
 * Who is calling the agent protocol: `agentIdentity(req)` is the one check of an agent's
 * credentials. Under mutual TLS the agent id comes from the verified peer certificate
 * (`spiffe://sextant/agent/<id>`, common/tls-identity.ts); the per-agent secret
 * (`Authorization: Sextant-Agent <id>:<secret>`, common/agent-credentials.ts) stays as a second
 * factor and must name the same agent. Under `--insecure-dev` the secret alone. A failure is an
 * AgentRefusedError (401/403 with a reason), counted and logged (rate-limited) by the routes.
 */
import { agentSecretMatches, parseAgentAuthorization, peerIdentity, SextantError, type Request } from '../common/index.js';
import type { AgentRefusalReason } from '../contracts/index.js';
import type { AgentRecord } from './model.js';

export class AgentRefusedError extends SextantError {
  constructor(
    readonly status: 401 | 403,
    readonly reason: AgentRefusalReason,
    message: string,
  ) {
    super(message);
  }
}

export interface AgentIdentity {
  agentId: string;
  record: AgentRecord;
}

/**
 * The agent a request comes from, or an AgentRefusedError. `agents` is the master's agent table.
 * A record without a stored hash (written before secrets existed) has no identity to check: such an
 * agent must re-register, which issues it a secret.
 */
export function agentIdentity(req: Pick<Request, 'headers' | 'raw'>, agents: ReadonlyMap<string, AgentRecord>, mtls = false): AgentIdentity {
  const certId = mtls ? certificateAgent(req) : undefined;
  const parsed = parseAgentAuthorization(req.headers.authorization);
  if ('error' in parsed) {
    if (parsed.error === 'missing') throw new AgentRefusedError(401, 'missing_credentials', 'no agent credentials: send Authorization: Sextant-Agent <agent_id>:<secret> (issued at registration)');
    throw new AgentRefusedError(401, 'malformed_credentials', 'malformed agent credentials: expected Authorization: Sextant-Agent <agent_id>:<secret>');
  }
  if (certId !== undefined && parsed.agentId !== certId) throw new AgentRefusedError(403, 'agent_mismatch', `the credentials name agent ${parsed.agentId} but the certificate is agent ${certId}'s`);
  const record = agents.get(parsed.agentId);
  if (!record) throw new AgentRefusedError(403, 'unknown_agent', `agent ${parsed.agentId} is not known to this master: register as a new agent`);
  if (!record.secret_sha256) throw new AgentRefusedError(403, 'bad_secret', `agent ${parsed.agentId} holds no secret yet: re-register to get one`);
  if (!agentSecretMatches(parsed.secret, record.secret_sha256)) throw new AgentRefusedError(403, 'bad_secret', `wrong secret for agent ${parsed.agentId}`);
  return { agentId: parsed.agentId, record };
}

/** The agent id of the verified client certificate (mutual TLS), or an AgentRefusedError. */
export function certificateAgent(req: Pick<Request, 'raw'>): string {
  const p = peerIdentity(req.raw.socket);
  if (!p.ok) throw new AgentRefusedError(401, 'missing_credentials', `no agent certificate: ${p.why}`);
  if (p.identity.kind !== 'agent') throw new AgentRefusedError(403, 'agent_mismatch', `the agent protocol is for agents; the certificate names ${p.identity.uri}`);
  return p.identity.id!;
}

/** The body names the same agent as the credentials. */
export function sameAgent(id: AgentIdentity, bodyAgentId: string | undefined, what: string): void {
  if (bodyAgentId !== id.agentId) throw new AgentRefusedError(403, 'agent_mismatch', `${what} names agent ${bodyAgentId ?? '(none)'} but the credentials are agent ${id.agentId}'s`);
}
