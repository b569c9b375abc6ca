/**
 * Who is calling the agent protocol: `agentIdentity(req)` is the one check of an agent's
 * credentials (`Authorization: Sextant-Agent <id>:<secret>`, common/agent-credentials.ts) against the
 * hash stored with its record. Mutual TLS (#30) replaces this function, not its callers. A failure
 * is an AgentRefusedError (401/403 with a reason), counted and logged (rate-limited) by the routes.
 */
import { agentSecretMatches, parseAgentAuthorization, SextantError, type Request } from '../common/index.js';
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
export function agentIdentity(req: Pick<Request, 'headers'>, agents: ReadonlyMap<string, AgentRecord>): AgentIdentity {
  const parsed = parseAgentAuthorization(req.headers.authorization);
  if ('error' in parsed) {
    if (parsed.error === 'missing') throw new AgentRefusedError(401, 'missing_credentials', 'no agent credentials: send Authorization: Sextant-Agent <agent_id>:<secret> (issued at registration)');
    throw new AgentRefusedError(401, 'malformed_credentials', 'malformed agent credentials: expected Authorization: Sextant-Agent <agent_id>:<secret>');
  }
  const record = agents.get(parsed.agentId);
  if (!record) throw new AgentRefusedError(403, 'unknown_agent', `agent ${parsed.agentId} is not known to this master: register as a new agent`);
  if (!record.secret_sha256) throw new AgentRefusedError(403, 'bad_secret', `agent ${parsed.agentId} holds no secret yet: re-register to get one`);
  if (!agentSecretMatches(parsed.secret, record.secret_sha256)) throw new AgentRefusedError(403, 'bad_secret', `wrong secret for agent ${parsed.agentId}`);
  return { agentId: parsed.agentId, record };
}

/** The body names the same agent as the credentials. */
export function sameAgent(id: AgentIdentity, bodyAgentId: string | undefined, what: string): void {
  if (bodyAgentId !== id.agentId) throw new AgentRefusedError(403, 'agent_mismatch', `${what} names agent ${bodyAgentId ?? '(none)'} but the credentials are agent ${id.agentId}'s`);
}
