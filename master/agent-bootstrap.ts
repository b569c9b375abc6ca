/**
 * Agent TLS bootstrap on the master (as kubelet TLS bootstrap): a first registration without a
 * client certificate carries the bootstrap token and a CSR; the master checks the token in constant
 * time, and after assigning the id signs the CSR with the cluster CA for
 * `spiffe://sextant/agent/<id>` (URI SAN) and the agent's addresses (IP SANs), for client and
 * server use. The CA key stays on the master. A re-registration presents the certificate instead.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { ConfigError, identityUri, peerIdentity, signCsr, ValidationError, type CaFiles, type Request } from '../common/index.js';
import { BOOTSTRAP_TOKEN_HEADER, type RegisterRequest } from '../contracts/index.js';
import { AgentRefusedError } from './agent-auth.js';

export interface BootstrapOptions {
  /** The token agents present on a first registration (absent: no agent can bootstrap). */
  token?: string;
  /** The cluster CA that signs agent certificates (absent: no agent can bootstrap). */
  signer?: CaFiles;
  /** Agent certificate lifetime (default pki's). */
  days?: number;
}

/** The agent a registration's verified certificate names, or undefined (no certificate: a bootstrap). */
export function registrationPeer(req: Pick<Request, 'raw'>): string | undefined {
  const p = peerIdentity(req.raw.socket);
  if (!p.ok) return undefined;
  if (p.identity.kind !== 'agent') throw new AgentRefusedError(403, 'agent_mismatch', `a registration must come from an agent; the certificate names ${p.identity.uri}`);
  return p.identity.id;
}

export class AgentBootstrap {
  constructor(private readonly opts: BootstrapOptions) {}

  /** Check the token and the CSR of a first registration; throws AgentRefusedError (nothing stored). */
  admit(req: Pick<Request, 'headers'>, reg: RegisterRequest): string {
    if (!this.opts.token || !this.opts.signer) throw new AgentRefusedError(403, 'bootstrap_unavailable', 'this master issues no agent certificates (it was started without --bootstrap-token-file or without the CA key)');
    const h = req.headers[BOOTSTRAP_TOKEN_HEADER];
    if (h === undefined || h === '') throw new AgentRefusedError(401, 'missing_bootstrap_token', `no bootstrap token: a first registration needs ${BOOTSTRAP_TOKEN_HEADER} (sextant agent --bootstrap-token-file)`);
    if (Array.isArray(h) || !tokenMatches(h, this.opts.token)) throw new AgentRefusedError(401, 'bad_bootstrap_token', 'wrong bootstrap token');
    if (!reg.csr) throw new AgentRefusedError(401, 'missing_credentials', 'a first registration under mutual TLS needs a csr (PEM certificate signing request) with the bootstrap token');
    return reg.csr;
  }

  /** The agent's certificate (PEM) for its CSR. */
  async issue(agentId: string, reg: Pick<RegisterRequest, 'ip' | 'ip6' | 'hostname'>, csr: string): Promise<string> {
    try {
      return await signCsr(this.opts.signer!, csr, {
        cn: `agent-${agentId}`,
        usage: 'both',
        ips: [reg.ip, ...(reg.ip6 ? [reg.ip6] : [])],
        uris: [identityUri('agent', agentId)],
        ...(this.opts.days ? { days: this.opts.days } : {}),
      });
    } catch (e) {
      if (e instanceof ConfigError && e.field === 'csr') throw new ValidationError([{ path: '/csr', errors: [e.reason] }]);
      throw e;
    }
  }
}

/** Constant-time comparison (of the SHA-256s, so lengths do not leak). */
export function tokenMatches(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given, 'utf8').digest();
  const b = createHash('sha256').update(expected, 'utf8').digest();
  return timingSafeEqual(a, b);
}
