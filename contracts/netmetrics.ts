/**
 * The network-metrics seam (issue #28, DC/OS's Network Metrics Aggregator): what one node's L4 load
 * balancer saw per VIP and backend, served by the agent at `GET /net/v1/metrics` and polled by the
 * masters, which aggregate it into `/net/v1/vips`, `/net/v1/vips/{vip}` and `/net/v1/backends/{ip:port}`.
 * Every counter is cumulative since the driver started (`since`); the aggregator takes differences
 * between polls, and treats a `since` that changed as a restart (counters begin again from zero).
 */

/** Upper bounds (seconds) of the connect-latency histogram buckets every driver uses; the last bucket is +Inf. */
export const CONNECT_LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5] as const;

/** Which figures a driver gives (the others are absent from its counters, not zero). */
export interface NetMetricsMeasures {
  connections: boolean;
  failures: boolean;
  bytes: boolean;
  latency: boolean;
}

export interface BackendMetrics {
  /** `IP:PORT` (IPv6 as `[IP]:PORT`). */
  backend: string;
  /** New connections (TCP) or flows (UDP) sent to this backend. */
  connections?: number;
  /** Failed attempts: no SYN-ACK, RST, timeout. Each is counted in `connections` too (failures <= connections): the aggregator's success rate is 1 - failures / connections. */
  failures?: number;
  /** Bytes both ways. */
  bytes?: number;
  /** Connect latency histogram: `counts[i]` connections with latency <= CONNECT_LATENCY_BUCKETS[i]; one more entry for +Inf. Cumulative, not per bucket. */
  latency?: { counts: number[]; sum: number };
}

export interface VipMetrics {
  /** `IP:PORT/PROTO` as the control plane names a VIP (`11.0.0.1:80/tcp`, `[fd01::10]:80/tcp`). */
  vip: string;
  /** The named-VIP name (`web.marathon.l4lb.thisdcos.directory` style) when it has one. */
  name?: string;
  backends: BackendMetrics[];
}

export interface NodeNetMetrics {
  /** The node's IP (as in the control plane / 3DT). */
  node: string;
  driver: 'nftables' | 'ipvs' | 'userspace';
  measures: NetMetricsMeasures;
  /** When the counters started (ms since epoch): a new value means they restarted from zero. */
  since: number;
  /** When this snapshot was taken (ms since epoch). */
  at: number;
  vips: VipMetrics[];
}

/**
 * Draining failing backends (`sextant master --vip-drain-failing`): the aggregator decides which
 * backends get weight 0, the VIP source (l4lb) asks it for every snapshot it builds. `apply` must
 * be pure over its input (it may remember what it saw) and never leave a VIP with backends but
 * none of weight > 0 that had one before.
 */
export interface VipDrain {
  /** The VIPs with the drained backends' weight set to 0. */
  apply<V extends DrainableVip>(vips: V[]): V[];
  /** Called when the set of drained backends changed (the source rebuilds its entries). */
  onChange(fn: () => void): () => void;
}

/** What `VipDrain.apply` reads of a control-plane VIP (contracts/control.ts `Vip`). */
export interface DrainableVip {
  key: string;
  backends: { ip: string; port: number; weight: number }[];
}

/**
 * A VipDrain the composition root hands to both sides before either exists: the l4lb source reads
 * it, the aggregator `set`s itself into it once it runs (and `set(undefined)` when it stops).
 * Without a delegate it changes nothing.
 */
export interface VipDrainRelay extends VipDrain {
  set(delegate: VipDrain | undefined): void;
}

export function createVipDrainRelay(): VipDrainRelay {
  const listeners = new Set<() => void>();
  let current: VipDrain | undefined;
  let off: (() => void) | undefined;
  const fire = () => listeners.forEach((fn) => fn());
  return {
    apply: (vips) => (current ? current.apply(vips) : vips),
    onChange(fn) {
      listeners.add(fn);
      return () => listeners.delete(fn);
    },
    set(delegate) {
      off?.();
      current = delegate;
      off = delegate?.onChange(fire);
      fire();
    },
  };
}

/** `IP:PORT` as NodeNetMetrics names a backend (`[IP]:PORT` for IPv6). */
export function backendName(ip: string, port: number): string {
  return `${ip.includes(':') ? `[${ip}]` : ip}:${port}`;
}

/** `IP:PORT/PROTO` as NodeNetMetrics names a VIP, from the control plane's `PROTO/IP:PORT` key. */
export function vipNameOfKey(key: string): string {
  const m = /^(tcp|udp)\/(.+):(\d+)$/.exec(key);
  return m ? `${backendName(m[2]!, Number(m[3]))}/${m[1]}` : key;
}
