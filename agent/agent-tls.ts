/**
 * The agent's side of mutual TLS: the cluster CA it trusts, and its own key and certificate in
 * `<work-dir>/tls/` (agent.key made here and never sent anywhere, agent.crt from the master's TLS
 * bootstrap; both 0600). Until it has a certificate it registers with the bootstrap token and a CSR;
 * from then on it presents the certificate (restarts reuse it). A certificate that names another
 * agent than the saved id is set aside (bootstrap again).
 */
import fs from 'node:fs';
import path from 'node:path';
import { X509Certificate } from 'node:crypto';
import { identityFromSan, makeKeyAndCsr, type ClientTls, type TlsMaterial } from '../common/index.js';
import { BOOTSTRAP_TOKEN_HEADER } from '../contracts/index.js';

export interface AgentTlsOptions {
  /** The cluster CA certificate (PEM). */
  ca: Buffer;
  /** The bootstrap token for a first registration (absent: an agent without a certificate cannot register). */
  bootstrapToken?: string;
}

export class AgentCertificate {
  private cert: Buffer | undefined;
  private key: Buffer | undefined;
  private csrPem: string | undefined;
  readonly dir: string;

  constructor(
    workDir: string,
    private readonly opts: AgentTlsOptions,
  ) {
    this.dir = path.join(workDir, 'tls');
  }

  get keyFile(): string {
    return path.join(this.dir, 'agent.key');
  }
  get certFile(): string {
    return path.join(this.dir, 'agent.crt');
  }

  /** Load (or make) the key and CSR; keep a stored certificate when it names `agentId`. */
  async prepare(agentId: string | undefined, cn: string): Promise<void> {
    this.csrPem = await makeKeyAndCsr(this.keyFile, cn);
    this.key = fs.readFileSync(this.keyFile);
    this.cert = undefined;
    if (!fs.existsSync(this.certFile)) return;
    const pem = fs.readFileSync(this.certFile);
    if (agentId !== undefined && certAgent(pem) === agentId) this.cert = pem;
    else this.drop();
  }

  hasCertificate(): boolean {
    return this.cert !== undefined;
  }

  /** The server side: CA, and the certificate once there is one (an agent without one answers no handshake). */
  material(): Partial<TlsMaterial> & { ca: Buffer } {
    return { ca: this.opts.ca, ...(this.cert && this.key ? { cert: this.cert, key: this.key } : {}) };
  }

  /** The client side towards the master. */
  client(): ClientTls {
    return this.material();
  }

  /** A first registration's extra header (the bootstrap token), when there is no certificate yet. */
  bootstrapHeaders(): Record<string, string> {
    return !this.cert && this.opts.bootstrapToken ? { [BOOTSTRAP_TOKEN_HEADER]: this.opts.bootstrapToken } : {};
  }

  /** The CSR for a first registration (none once there is a certificate). */
  csr(): string | undefined {
    return this.cert ? undefined : this.csrPem;
  }

  /** Keep the certificate the master issued (0600) for `agentId`; throws when it names another agent. */
  install(pem: string, agentId: string): void {
    const buf = Buffer.from(pem);
    const id = certAgent(buf);
    if (id !== agentId) throw new Error(`the master issued a certificate for ${id ?? 'no agent'}, not for agent ${agentId}`);
    const tmp = `${this.certFile}.tmp`;
    fs.writeFileSync(tmp, buf, { mode: 0o600 });
    fs.renameSync(tmp, this.certFile);
    this.cert = buf;
  }

  /** Forget the certificate (the master forgot this agent): the next registration bootstraps. */
  drop(): void {
    fs.rmSync(this.certFile, { force: true });
    this.cert = undefined;
  }
}

/** The agent id a certificate names (URI SAN), or undefined. */
export function certAgent(pem: Buffer): string | undefined {
  try {
    const id = identityFromSan(new X509Certificate(pem).subjectAltName);
    return id?.kind === 'agent' ? id.id : undefined;
  } catch {
    return undefined;
  }
}
