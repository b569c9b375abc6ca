/**
 * `sextant up`'s mutual TLS (#30): in `<work-dir>/pki` the cluster CA (the entry point's too), the
 * master's TLS dir (`master/`: ca.crt, ca.key, node.crt, node.key; the CA key stays with the master
 * to sign agents' certificates), the bootstrap token (0600), and an operator `cli` certificate that
 * `up` itself uses and names in the status file. `upRequest` is the one JSON client of `up`'s own
 * calls: it presents the `cli` certificate to https URLs once `useUpTls` was called.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { ensureCa, identityUri, issueCert, requestJson, type CaFiles, type ClientTls } from '../common/index.js';

export interface UpTls {
  ca: CaFiles;
  masterDir: string;
  tokenFile: string;
  cli: { cert: string; key: string };
}

/** Make (or reuse) the PKI of a secure `up`; the master's certificate is issued for `ips`. */
export async function prepareUpTls(workDir: string, masterIp: string, ips: string[]): Promise<UpTls> {
  const dir = path.join(workDir, 'pki');
  const ca = await ensureCa(dir);
  const masterDir = path.join(dir, 'master');
  await issueCert(ca, masterDir, 'node', { cn: `master-${masterIp}`, usage: 'both', ips: [...new Set([masterIp, ...ips])], uris: [identityUri('master', masterIp)] });
  fs.copyFileSync(ca.cert, path.join(masterDir, 'ca.crt'));
  fs.copyFileSync(ca.key, path.join(masterDir, 'ca.key'));
  fs.chmodSync(path.join(masterDir, 'ca.key'), 0o600);
  const cli = await issueCert(ca, dir, 'cli', { cn: 'operator', usage: 'client', uris: [identityUri('cli')] });
  const tokenFile = path.join(dir, 'bootstrap-token');
  if (!fs.existsSync(tokenFile)) fs.writeFileSync(tokenFile, `${randomBytes(24).toString('hex')}\n`, { mode: 0o600 });
  return { ca, masterDir, tokenFile, cli: { cert: cli.cert, key: cli.key } };
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
