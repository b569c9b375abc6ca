/**
 * The contract every L4LB data plane implements (ipvs, nftables, userspace). A driver owns its
 * kernel objects and nothing else. `apply` makes the kernel match `desired` with a minimal change
 * and returns what it changed; `dump` reads back what is programmed (sorted), `reconcile` is a full
 * apply that also repairs changes made by others.
 */
import type { NodeNetMetrics, Protocol } from '../contracts/index.js';
import type { NetCounts } from './vipmetrics/pair-layout.js';

export interface Backend {
  ip: string;
  port: number;
  weight: number;
}

export interface Service {
  /** `${protocol}/${vip}:${port}` */
  key: string;
  vip: string;
  port: number;
  protocol: Protocol;
  backends: Backend[];
}

/** Services added/removed/changed; `rules` counts kernel objects written (elements, rules). */
export interface ApplyResult {
  added: number;
  removed: number;
  changed: number;
  rules?: number;
}

export type DriverName = 'ipvs' | 'nftables' | 'userspace';

/** What a driver measured per VIP and backend (issue #28); the agent adds the node and the time. */
export type DriverNetMetrics = Pick<NodeNetMetrics, 'measures' | 'since' | 'vips'>;

export interface L4lbDriver {
  readonly name: DriverName;
  /** Probe: can this driver work here? Resolves with a reason when it cannot. */
  available(): Promise<{ ok: true } | { ok: false; reason: string }>;
  start(): Promise<void>;
  apply(desired: Service[]): Promise<ApplyResult>;
  dump(): Promise<Service[]>;
  reconcile(desired: Service[]): Promise<ApplyResult>;
  /**
   * Optional: what a reconcile now would change, as lines an operator reads, changing nothing
   * (drivers whose kernel state is more than `dump` shows: the nftables skeleton). Without it, the
   * health check compares `dump()` with the desired services.
   */
  drift?(desired: Service[]): Promise<string[]>;
  /**
   * Optional: per VIP and backend counters since the driver started, read now (cheap: no work per
   * packet or connection beyond counting). Undefined when the driver's metrics are off.
   */
  netMetrics?(): Promise<DriverNetMetrics | undefined>;
  /**
   * Optional: the same read in layout form (vipmetrics/pair-layout.ts: objects for counted pairs
   * only), for readers that need no object per backend (the Prometheus series, the node view).
   */
  netCounts?(): Promise<NetCounts | undefined>;
  stop(): Promise<void>;
}
