/**
 * Password hashes with node's scrypt and a random per-user salt. The parameters are stored with
 * the hash, so raising them later leaves old hashes verifiable. Comparison is constant-time.
 */
import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';

export interface PasswordHash {
  alg: 'scrypt';
  N: number;
  r: number;
  p: number;
  salt: string;
  hash: string;
}

export interface ScryptParams {
  N: number;
  r: number;
  p: number;
}

/** About 50 ms and 16 MiB per hash here: slow for a guesser, cheap for a login. */
export const DEFAULT_SCRYPT: ScryptParams = { N: 1 << 14, r: 8, p: 1 };
const KEYLEN = 64;

function derive(password: string, salt: Buffer, o: ScryptParams): Promise<Buffer> {
  const opts: ScryptOptions = { N: o.N, r: o.r, p: o.p, maxmem: 256 * o.N * o.r };
  return new Promise((resolve, reject) => scrypt(password.normalize('NFC'), salt, KEYLEN, opts, (err, key) => (err ? reject(err) : resolve(key))));
}

export async function hashPassword(password: string, params: ScryptParams = DEFAULT_SCRYPT): Promise<PasswordHash> {
  const salt = randomBytes(16);
  const key = await derive(password, salt, params);
  return { alg: 'scrypt', ...params, salt: salt.toString('base64'), hash: key.toString('base64') };
}

export async function verifyPassword(password: string, stored: PasswordHash): Promise<boolean> {
  const want = Buffer.from(stored.hash, 'base64');
  const got = await derive(password, Buffer.from(stored.salt, 'base64'), stored);
  return got.length === want.length && timingSafeEqual(got, want);
}

/** A hash no password matches: verified against for unknown uids, so they take as long as known ones. */
let decoy: Promise<PasswordHash> | undefined;
export function decoyHash(params: ScryptParams = DEFAULT_SCRYPT): Promise<PasswordHash> {
  return (decoy ??= hashPassword(randomBytes(24).toString('base64'), params));
}
