/**
 * Where the CLI keeps the token `sextant auth login` obtained: `$SEXTANT_TOKEN` wins, else
 * `$XDG_CONFIG_HOME/sextant/token` (default `~/.config/sextant/token`), mode 0600. Every CLI
 * request sends it when present.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export function configDir(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CONFIG_HOME || path.join(env.HOME || os.homedir(), '.config');
  return path.join(base, 'sextant');
}

export function tokenPath(env: NodeJS.ProcessEnv = process.env): string {
  return path.join(configDir(env), 'token');
}

export function loadToken(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env.SEXTANT_TOKEN) return env.SEXTANT_TOKEN.trim();
  try {
    return fs.readFileSync(tokenPath(env), 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}

/** Headers to add to a CLI request: `Authorization: token=<jwt>` when a token is stored. */
export function authHeaders(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const t = loadToken(env);
  return t ? { authorization: `token=${t}` } : {};
}
