/**
 * The entry point's configuration, its defaults and its environment overrides (SEXTANT_ENTRY_*).
 * The listening address, port and certificate come from `sextant master --admin-port/--admin-cert/--admin-key`.
 */
import { ConfigError } from '../../common/errors.js';

export interface EntryLimits {
  /** Largest request body; over it: 413 before the upstream sees the request. */
  maxBodyBytes: number;
  /** Largest total request header size; over it: 431. */
  maxHeaderBytes: number;
  /** Time to the upstream's response headers; past it: 504. */
  upstreamTimeoutMs: number;
  /** How long a verified token (by hash) and an authorize answer are reused. */
  tokenCacheMs: number;
  tokenCacheSize: number;
  /** Failed authentications from one address within the window before it gets 429. */
  throttleFailures: number;
  throttleWindowMs: number;
  /** Behind the nginx front: how long nginx reuses an allowed read decision (ms; never past the token's expiry). */
  frontDecisionMs: number;
  /** Worker processes serving the port (node:cluster, workers.ts); 1: the entry point runs in the master's own thread. */
  workers: number;
}

export const DEFAULT_ENTRY_LIMITS: EntryLimits = {
  maxBodyBytes: 16 << 20,
  maxHeaderBytes: 16 << 10,
  upstreamTimeoutMs: 30_000,
  tokenCacheMs: 10_000,
  tokenCacheSize: 10_000,
  throttleFailures: 20,
  throttleWindowMs: 60_000,
  frontDecisionMs: 1000,
  workers: 1,
};

export const ENTRY_ENV: Record<keyof EntryLimits, string> = {
  maxBodyBytes: 'SEXTANT_ENTRY_MAX_BODY_BYTES',
  maxHeaderBytes: 'SEXTANT_ENTRY_MAX_HEADER_BYTES',
  upstreamTimeoutMs: 'SEXTANT_ENTRY_UPSTREAM_TIMEOUT_MS',
  tokenCacheMs: 'SEXTANT_ENTRY_TOKEN_CACHE_MS',
  tokenCacheSize: 'SEXTANT_ENTRY_TOKEN_CACHE_SIZE',
  throttleFailures: 'SEXTANT_ENTRY_THROTTLE_FAILURES',
  throttleWindowMs: 'SEXTANT_ENTRY_THROTTLE_WINDOW_MS',
  frontDecisionMs: 'SEXTANT_ENTRY_FRONT_DECISION_MS',
  workers: 'SEXTANT_ENTRY_WORKERS',
};

export function entryLimitsFromEnv(env: NodeJS.ProcessEnv = process.env): EntryLimits {
  const out = { ...DEFAULT_ENTRY_LIMITS };
  for (const k of Object.keys(ENTRY_ENV) as (keyof EntryLimits)[]) {
    const v = env[ENTRY_ENV[k]];
    if (v === undefined || v === '') continue;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new ConfigError(ENTRY_ENV[k], `'${v}' is not a positive integer`);
    out[k] = n;
  }
  return out;
}
