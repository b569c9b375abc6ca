/**
 * A node's TLS material: the cluster CA certificate and this node's certificate and key, as paths
 * (`--tls-dir DIR` means DIR/ca.crt, DIR/node.crt, DIR/node.key; `--tls-ca/--tls-cert/--tls-key`
 * name them one by one). Loaded once into memory; a missing or unreadable file is a ConfigError
 * naming the flag and the path. Same shape as control/tls.ts TlsOptions.
 */
import fs from 'node:fs';
import path from 'node:path';
import { ConfigError } from './errors.js';

export interface TlsPaths {
  ca: string;
  cert: string;
  key: string;
}

export interface TlsMaterial {
  ca: Buffer;
  cert: Buffer;
  key: Buffer;
}

/** The files of a TLS directory. */
export function tlsDirPaths(dir: string): TlsPaths {
  return { ca: path.join(dir, 'ca.crt'), cert: path.join(dir, 'node.crt'), key: path.join(dir, 'node.key') };
}

/** Read one PEM file, naming the flag it came from when it cannot be read. */
export function readPem(file: string, flag: string): Buffer {
  try {
    const b = fs.readFileSync(file);
    if (!b.includes('-----BEGIN ')) throw new Error('not a PEM file');
    return b;
  } catch (e) {
    throw new ConfigError(flag, `cannot read ${file}: ${(e as Error).message}`);
  }
}

export function loadTls(p: TlsPaths, flags: { ca: string; cert: string; key: string } = { ca: '--tls-ca', cert: '--tls-cert', key: '--tls-key' }): TlsMaterial {
  return { ca: readPem(p.ca, flags.ca), cert: readPem(p.cert, flags.cert), key: readPem(p.key, flags.key) };
}

/**
 * `--tls-dir` or `--tls-ca/--tls-cert/--tls-key` from parsed flags: undefined when none is given,
 * a ConfigError when they are mixed or incomplete. `certOptional`: an agent may have only the CA
 * (it bootstraps its certificate).
 */
export function tlsPathsFromFlags(v: { 'tls-dir'?: string; 'tls-ca'?: string; 'tls-cert'?: string; 'tls-key'?: string }, certOptional = false): (Partial<TlsPaths> & { ca: string }) | undefined {
  const some = v['tls-ca'] !== undefined || v['tls-cert'] !== undefined || v['tls-key'] !== undefined;
  if (v['tls-dir'] !== undefined) {
    if (some) throw new ConfigError('--tls-dir', 'is given with --tls-ca/--tls-cert/--tls-key: use one or the other');
    const p = tlsDirPaths(v['tls-dir']);
    if (certOptional && !fs.existsSync(p.cert) && !fs.existsSync(p.key)) return { ca: p.ca };
    return p;
  }
  if (!some) return undefined;
  if (v['tls-ca'] === undefined) throw new ConfigError('--tls-ca', 'is required with --tls-cert/--tls-key');
  if ((v['tls-cert'] === undefined) !== (v['tls-key'] === undefined)) throw new ConfigError(v['tls-cert'] === undefined ? '--tls-cert' : '--tls-key', 'is required with the other');
  if (v['tls-cert'] === undefined && !certOptional) throw new ConfigError('--tls-cert', 'is required (with --tls-key and --tls-ca)');
  return { ca: v['tls-ca'], ...(v['tls-cert'] !== undefined ? { cert: v['tls-cert'], key: v['tls-key']! } : {}) };
}

/** The flags that give a node its TLS material (in error messages). */
export const TLS_FLAGS_HINT = '--tls-dir DIR (or --tls-ca/--tls-cert/--tls-key), or --insecure-dev for plain HTTP in development';

/**
 * A bootstrap token: the first line of `file` (trimmed), else `envValue`; at least 16 characters.
 * Undefined when neither is given.
 */
export function readBootstrapToken(file: string | undefined, envValue: string | undefined, flag = '--bootstrap-token-file'): string | undefined {
  let token: string | undefined;
  if (file !== undefined) {
    try {
      token = fs.readFileSync(file, 'utf8').split('\n')[0]!.trim();
    } catch (e) {
      throw new ConfigError(flag, `cannot read ${file}: ${(e as Error).message}`);
    }
    if (!token) throw new ConfigError(flag, `${file} is empty`);
  } else if (envValue) token = envValue.trim();
  if (token === undefined) return undefined;
  if (token.length < 16 || !/^[\x21-\x7e]+$/.test(token)) throw new ConfigError(file !== undefined ? flag : 'SEXTANT_BOOTSTRAP_TOKEN', 'the bootstrap token must be at least 16 printable characters without spaces');
  return token;
}
