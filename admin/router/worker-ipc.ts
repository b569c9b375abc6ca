/**
 * What an entry point worker process (workers.ts) and its primary say to each other over the
 * cluster IPC channel. The worker asks the primary's AuthGate for every credential it has not
 * verified itself within the cache time (so the failure throttle and the Authority live in one
 * place), sends its log lines (the audit log stays the master's), and relays its metrics in
 * batches. Every message carries `sx` so other cluster traffic is told apart.
 */
import type { Identity, Permission } from '../../contracts/auth.js';
import type { GateResult } from './auth-gate.js';
import type { EntryLimits } from './config.js';

/** How a worker builds its upstreams (MasterUpstreams) and listener. */
export interface EntryWorkerConfig {
  host: string;
  port: number;
  cert: string;
  key: string;
  limits: EntryLimits;
  upstream: { ip: string; port: number; marathonPort: number; mesosDnsPort: number; leaderCacheMs?: number };
  /** The master's client certificate, key and CA (PEM) for upstreams under mutual TLS; absent: plain HTTP upstreams. */
  upstreamTls?: { ca: string; cert: string; key: string };
}

/** Counts and observations since the last batch: [route, code, n], [reason, n], [route, seconds] pairs flattened. */
export interface MetricsBatch {
  requests: [string, string, number][];
  refusals: [string, number][];
  upstream: (string | number)[];
}

export type ToPrimary =
  | { sx: 'ready'; port: number }
  | { sx: 'failed'; message: string }
  | { sx: 'authn'; id: number; headers: { authorization?: string | string[]; cookie?: string | string[] }; address: string }
  | { sx: 'authz'; id: number; identity: Identity; permission: Permission }
  | { sx: 'log'; level: 'debug' | 'info' | 'warn' | 'error'; event: string; fields?: Record<string, unknown> }
  | { sx: 'metrics'; batch: MetricsBatch; flushed?: number };

export type ToWorker =
  | { sx: 'authn'; id: number; r: GateResult }
  | { sx: 'authz'; id: number; ok: boolean }
  | { sx: 'flush'; id: number }
  | { sx: 'stop' };

export const WORKER_ENV = 'SEXTANT_ENTRY_WORKER_CONFIG';

/** Log fields made safe for IPC (errors as their name and message). */
export function plainFields(f: Record<string, unknown> | undefined): Record<string, unknown> | undefined {
  if (!f) return undefined;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(f)) out[k] = v instanceof Error ? { name: v.name, message: v.message } : v;
  return out;
}
