/**
 * `sextant up`'s mutual TLS (#30): in `<work-dir>/pki` the cluster CA (the entry point's too), the
 * master's TLS dir (`master/`: ca.crt, ca.key, node.crt, node.key; the CA key stays with the master
 * to sign agents' certificates), the bootstrap token (0600), and an operator `cli` certificate that
 * `up` itself uses and names in the status file. With `--masters 3|5` each master gets its own TLS
 * dir (`master-<n>/`, its certificate for its own address: IP SAN and spiffe://sextant/master/<ip>)
 * and an entry-point certificate (`entry-<n>/`) for the addresses it is reached on (its own, and
 * with --netns the host's forwarded one). `upRequest` is the one JSON client of
 * `up`'s own calls: it presents the `cli` certificate to https URLs once `useUpTls` was called.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { ensureCa, identityUri, issueCert, requestJson, type CaFiles, type ClientTls } from '../common/index.js';

export interface UpTls {
  ca: CaFiles;
  /** The single master's TLS dir (`up` with one master; with several, prepareHaMasterTls makes one per master). */
  masterDir?: string;
  tokenFile: string;
  cli: { cert: string; key: string };
}

/** Make (or reuse) the PKI of a secure `up`; the single master's certificate is issued for `masterIp` and `ips` (none with several masters). */
export async function prepareUpTls(workDir: string, master?: { ip: string; ips: string[] }): Promise<UpTls> {
  const dir = path.join(workDir, 'pki');
  const ca = await ensureCa(dir);
  const masterDir = master ? path.join(dir, 'master') : undefined;
  if (master && masterDir) await masterTlsDir(ca, masterDir, master.ip, master.ips);
  const cli = await issueCert(ca, dir, 'cli', { cn: 'operator', usage: 'client', uris: [identityUri('cli')] });
  const tokenFile = path.join(dir, 'bootstrap-token');
  if (!fs.existsSync(tokenFile)) fs.writeFileSync(tokenFile, `${randomBytes(24).toString('hex')}\n`, { mode: 0o600 });
  return { ca, ...(masterDir ? { masterDir } : {}), tokenFile, cli: { cert: cli.cert, key: cli.key } };
}

/** A master's TLS dir: its certificate (own IP SAN and identity, plus `ips`), the CA and the CA key (it signs agents' certificates). */
async function masterTlsDir(ca: CaFiles, dir: string, ip: string, ips: string[]): Promise<void> {
  await issueCert(ca, dir, 'node', { cn: `master-${ip}`, usage: 'both', ips: [...new Set([ip, ...ips])], uris: [identityUri('master', ip)] });
  fs.copyFileSync(ca.cert, path.join(dir, 'ca.crt'));
  fs.copyFileSync(ca.key, path.join(dir, 'ca.key'));
  fs.chmodSync(path.join(dir, 'ca.key'), 0o600);
}

/**
 * `--masters 3|5`: master n's (1-based) `--tls-dir`, `<work-dir>/pki/master-<n>/`, for its own
 * address `ip` (and `hostIp`, where the host reaches it: another address with --netns).
 */
export async function haMasterTlsDir(ca: CaFiles, n: number, ip: string, hostIp: string): Promise<string> {
  const dir = path.join(path.dirname(ca.cert), `master-${n}`);
  await masterTlsDir(ca, dir, ip, [hostIp]);
  return dir;
}

/** `--masters 3|5`: master n's entry-point certificate (`--admin-cert`/`--admin-key`) for `ip` and `hostIp`, in `<work-dir>/pki/entry-<n>/`. */
export async function haEntryCert(ca: CaFiles, n: number, ip: string, hostIp: string): Promise<{ cert: string; key: string }> {
  const e = await issueCert(ca, path.join(path.dirname(ca.cert), `entry-${n}`), 'entry', { cn: ip, usage: 'server', ips: [...new Set([ip, hostIp])], dns: ['localhost'] });
  return { cert: e.cert, key: e.key };
}

let clientTls: ClientTls | undefined;

/** From now on `upRequest` presents this certificate to https URLs. */
export function useUpTls(t: UpTls): void {
  clientTls = { ca: fs.readFileSync(t.ca.cert), cert: fs.readFileSync(t.cli.cert), key: fs.readFileSync(t.cli.key) };
}

/** requestJson with the `cli` certificate for https URLs (after useUpTls). */
export function upRequest(url: string, opts: Parameters<typeof requestJson>[1] = {}): ReturnType<typeof requestJson> {
  return requestJson(url, { ...opts, ...(clientTls && url.startsWith('https:') ? { tls: clientTls } : {}) });
}
