/**
 * The cluster PKI: one cluster CA (EC P-256 key + self-signed certificate) and leaf certificates it
 * issues (server, client or both), with SANs for IPs, DNS names and URIs (an identity such as
 * `spiffe://sextant/agent/<id>` for later agent certificates). Everything goes through Debian's
 * `openssl` (common/proc.ts): no key material is generated in JavaScript. Private keys are written
 * 0600 (the file is created with that mode before openssl fills it, so it is never readable by others).
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError, MissingRequirementError } from './errors.js';
import { run } from './proc.js';

export interface CaFiles {
  cert: string;
  key: string;
}

export interface LeafFiles extends CaFiles {
  /** The CA certificate that signed it (what peers pass as `ca`). */
  ca: string;
}

export type Usage = 'server' | 'client' | 'both';

export interface LeafRequest {
  /** Subject common name (an identity for client certificates, the host name for servers). */
  cn: string;
  usage: Usage;
  ips?: string[];
  dns?: string[];
  /** URI SANs (e.g. `spiffe://sextant/agent/S1`). */
  uris?: string[];
  days?: number;
}

const OPENSSL = 'openssl';
const CA_DAYS = 3650;
const LEAF_DAYS = 825;

/** Paths of the CA in a directory: `ca.crt`, `ca.key`. */
export function caPaths(dir: string): CaFiles {
  return { cert: path.join(dir, 'ca.crt'), key: path.join(dir, 'ca.key') };
}

/** The CA in `dir`, created (key 0600, dir 0700) when absent. Reuses an existing one untouched. */
export async function ensureCa(dir: string, name = 'Sextant cluster CA'): Promise<CaFiles> {
  const p = caPaths(dir);
  const hasCert = fs.existsSync(p.cert);
  const hasKey = fs.existsSync(p.key);
  if (hasCert && hasKey) return p;
  if (hasCert !== hasKey) throw new ConfigError(dir, `holds ${hasCert ? 'ca.crt without ca.key' : 'ca.key without ca.crt'}; remove it or supply both`);
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  await genKey(p.key);
  const tmp = `${p.cert}.${process.pid}.tmp`;
  await openssl(['req', '-x509', '-new', '-key', p.key, '-out', tmp, '-days', String(CA_DAYS), '-sha256', '-subj', subject(name),
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign', '-addext', 'subjectKeyIdentifier=hash']);
  fs.renameSync(tmp, p.cert);
  return p;
}

/** Issue a leaf certificate signed by `ca` into `<dir>/<name>.crt` and `<name>.key` (0600). */
export async function issueCert(ca: CaFiles, dir: string, name: string, req: LeafRequest): Promise<LeafFiles> {
  if (!/^[A-Za-z0-9._-]+$/.test(name)) throw new ConfigError('name', `'${name}' is not a plain file name`);
  if (!req.cn || /[\n\r/\\]/.test(req.cn)) throw new ConfigError('cn', `'${req.cn}' is not a usable common name`);
  const extText = extensions(req);
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const out = { cert: path.join(dir, `${name}.crt`), key: path.join(dir, `${name}.key`), ca: ca.cert };
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'sextant-pki-'));
  try {
    await genKey(out.key);
    const csr = path.join(work, 'req.csr');
    const ext = path.join(work, 'ext.cnf');
    fs.writeFileSync(ext, extText);
    await openssl(['req', '-new', '-key', out.key, '-out', csr, '-subj', subject(req.cn)]);
    const tmp = path.join(work, 'leaf.crt');
    await openssl(['x509', '-req', '-in', csr, '-CA', ca.cert, '-CAkey', ca.key, '-set_serial', `0x${randomBytes(16).toString('hex')}`,
      '-days', String(req.days ?? LEAF_DAYS), '-sha256', '-extfile', ext, '-extensions', 'leaf', '-out', tmp]);
    fs.copyFileSync(tmp, out.cert);
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
  return out;
}

/**
 * A private key at `keyFile` (0600, never leaves the node; made when absent, reused otherwise) and
 * a certificate signing request for it (PEM), as an agent makes before its TLS bootstrap.
 */
export async function makeKeyAndCsr(keyFile: string, cn: string): Promise<string> {
  if (!cn || /[\n\r/\\]/.test(cn)) throw new ConfigError('cn', `'${cn}' is not a usable common name`);
  fs.mkdirSync(path.dirname(keyFile), { recursive: true, mode: 0o700 });
  if (!fs.existsSync(keyFile)) await genKey(keyFile);
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'sextant-csr-'));
  try {
    const csr = path.join(work, 'req.csr');
    await openssl(['req', '-new', '-key', keyFile, '-out', csr, '-subj', subject(cn)]);
    return fs.readFileSync(csr, 'utf8');
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

/** Largest CSR accepted (a P-256 or RSA-4096 CSR is well under this). */
export const MAX_CSR_BYTES = 8192;

/**
 * Sign a CSR (PEM) with the CA: the CSR gives only its public key (its signature is checked); the
 * subject, SANs and usages are the request's, never the CSR's. Returns the certificate (PEM).
 * A CSR that is not one, or whose signature does not match, is a ConfigError naming `csr`.
 */
export async function signCsr(ca: CaFiles, csrPem: string, req: LeafRequest): Promise<string> {
  if (typeof csrPem !== 'string' || csrPem.length > MAX_CSR_BYTES || !/^-----BEGIN CERTIFICATE REQUEST-----\r?\n[A-Za-z0-9+/=\r\n]+-----END CERTIFICATE REQUEST-----\s*$/.test(csrPem.trim() + '\n'))
    throw new ConfigError('csr', `is not a PEM certificate signing request of at most ${MAX_CSR_BYTES} bytes`);
  if (!req.cn || /[\n\r/\\]/.test(req.cn)) throw new ConfigError('cn', `'${req.cn}' is not a usable common name`);
  const extText = extensions(req);
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'sextant-sign-'));
  try {
    const csr = path.join(work, 'req.csr');
    const ext = path.join(work, 'ext.cnf');
    const out = path.join(work, 'leaf.crt');
    fs.writeFileSync(csr, csrPem);
    fs.writeFileSync(ext, extText);
    try {
      await openssl(['x509', '-req', '-in', csr, '-CA', ca.cert, '-CAkey', ca.key, '-set_serial', `0x${randomBytes(16).toString('hex')}`, '-subj', subject(req.cn),
        '-days', String(req.days ?? LEAF_DAYS), '-sha256', '-extfile', ext, '-extensions', 'leaf', '-out', out]);
    } catch (e) {
      if (e instanceof MissingRequirementError) throw e;
      throw new ConfigError('csr', `could not be signed (bad request or signature): ${String((e as Error).message).split('\n')[0]}`);
    }
    return fs.readFileSync(out, 'utf8');
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

/** The `[leaf]` extension section for a request (exported for its unit test). */
export function extensions(req: LeafRequest): string {
  const eku = { server: 'serverAuth', client: 'clientAuth', both: 'serverAuth,clientAuth' }[req.usage];
  if (!eku) throw new ConfigError('usage', `'${req.usage}' is not server, client or both`);
  const sans = [
    ...(req.ips ?? []).map((ip) => `IP:${ip}`),
    ...(req.dns ?? []).map((d) => `DNS:${d}`),
    ...(req.uris ?? []).map((u) => `URI:${u}`),
  ];
  for (const s of sans) if (/[,\n\r]/.test(s)) throw new ConfigError('subjectAltName', `'${s}' contains a comma or newline`);
  const lines = ['[leaf]', 'basicConstraints=critical,CA:FALSE', 'keyUsage=critical,digitalSignature,keyEncipherment', `extendedKeyUsage=${eku}`, 'subjectKeyIdentifier=hash', 'authorityKeyIdentifier=keyid'];
  if (sans.length) lines.push(`subjectAltName=${sans.join(',')}`);
  return `${lines.join('\n')}\n`;
}

/** `-subj` value: escapes the characters openssl's parser treats specially. */
function subject(cn: string): string {
  return `/CN=${cn.replace(/([/+=\\])/g, '\\$1')}`;
}

async function genKey(file: string): Promise<void> {
  fs.rmSync(file, { force: true });
  fs.writeFileSync(file, '', { mode: 0o600 });
  await openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', file]);
  fs.chmodSync(file, 0o600);
}

async function openssl(args: string[]): Promise<void> {
  try {
    await run([OPENSSL, ...args], { timeoutMs: 30_000 });
  } catch (e) {
    if ((e as { code?: unknown }).code === null && /ENOENT/.test(String((e as Error).message))) throw new MissingRequirementError('openssl', 'install the Debian package openssl');
    throw e;
  }
}
