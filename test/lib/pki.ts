/**
 * A throwaway cluster PKI for tests (real openssl through common/pki.ts): the cluster CA, a master
 * TLS dir (ca.crt, ca.key, node.crt, node.key), an operator `cli` certificate, a bootstrap token
 * file, and a second CA with a look-alike agent certificate (the attacker's). Removed at teardown.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ensureCa, identityUri, issueCert, type LeafFiles, type TlsMaterial } from '../../common/index.js';

interface Teardownable {
  teardown(fn: () => unknown): void;
}

export interface TestPki {
  dir: string;
  /** A master TLS dir for `--tls-dir` (with ca.key: it signs agents' certificates). */
  masterDir(ip: string): Promise<string>;
  ca: string;
  caKey: string;
  cli: LeafFiles;
  foreign: LeafFiles;
  token: string;
  tokenFile: string;
  /** Client material: the cluster CA and optionally a certificate. */
  client(leaf?: { cert: string; key: string }): TlsMaterial | { ca: Buffer };
}

export async function makeTestPki(t: Teardownable): Promise<TestPki> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sx-pki-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const ca = await ensureCa(path.join(dir, 'ca'));
  const other = await ensureCa(path.join(dir, 'other'), 'Attacker CA');
  const cli = await issueCert(ca, path.join(dir, 'leaves'), 'cli', { cn: 'operator', usage: 'client', uris: [identityUri('cli')] });
  const foreign = await issueCert(other, path.join(dir, 'leaves'), 'foreign', { cn: 'agent', usage: 'both', ips: ['127.0.0.1'], uris: [identityUri('agent', 'x-S0')] });
  const token = randomBytes(24).toString('hex');
  const tokenFile = path.join(dir, 'bootstrap-token');
  fs.writeFileSync(tokenFile, `${token}\n`, { mode: 0o600 });
  return {
    dir,
    ca: ca.cert,
    caKey: ca.key,
    cli,
    foreign,
    token,
    tokenFile,
    async masterDir(ip: string) {
      const d = path.join(dir, `master-${ip}`);
      await issueCert(ca, d, 'node', { cn: `master-${ip}`, usage: 'both', ips: [ip], uris: [identityUri('master', ip)] });
      fs.copyFileSync(ca.cert, path.join(d, 'ca.crt'));
      fs.copyFileSync(ca.key, path.join(d, 'ca.key'));
      return d;
    },
    client(leaf) {
      const c = fs.readFileSync(ca.cert);
      return leaf ? { ca: c, cert: fs.readFileSync(leaf.cert), key: fs.readFileSync(leaf.key) } : { ca: c };
    },
  };
}
