/**
 * `sextant up`'s first superuser: uid `admin` with a random password, kept in
 * `<work-dir>/admin-password` (0600) and handed to the master as `--superuser admin
 * --superuser-password-file`, which creates it only while the store holds no account. A later `up`
 * on the same work dir reuses the file (the store already has that admin). Once the master is up,
 * `up` logs in and puts the superuser token in the --status-file (as kind writes a kubeconfig).
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { upRequest as requestJson } from './up-tls.js';

export const ADMIN_UID = 'admin';

export interface AdminCredentials {
  uid: string;
  password: string;
  file: string;
  /** Made by this run (so the summary shows the password once). */
  fresh: boolean;
}

export function adminCredentials(workDir: string): AdminCredentials {
  const file = join(workDir, 'admin-password');
  if (existsSync(file)) {
    const password = readFileSync(file, 'utf8').split('\n')[0]!.trim();
    if (password.length >= 8) return { uid: ADMIN_UID, password, file, fresh: false };
  }
  const password = randomBytes(18).toString('base64url');
  writeFileSync(file, `${password}\n`, { mode: 0o600 });
  return { uid: ADMIN_UID, password, file, fresh: true };
}

export function superuserArgs(c: AdminCredentials): string[] {
  return ['--superuser', c.uid, '--superuser-password-file', c.file];
}

/** A superuser token from the master's ACS; throws naming what the master said. */
export async function adminToken(masterUrl: string, c: AdminCredentials): Promise<string> {
  const r = await requestJson(`${masterUrl}/acs/api/v1/auth/login`, { method: 'POST', body: { uid: c.uid, password: c.password }, timeoutMs: 20_000 });
  const token = (r.body as { token?: unknown } | undefined)?.token;
  if (r.status !== 200 || typeof token !== 'string') {
    const d = (r.body as { description?: string } | undefined)?.description ?? JSON.stringify(r.body);
    throw new Error(`logging in as ${c.uid} at ${masterUrl} failed (${r.status}): ${d}${r.status === 401 ? ` (the store of this work dir has another ${c.uid} password than ${c.file}?)` : ''}`);
  }
  return token;
}
