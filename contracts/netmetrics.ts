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
  /** Failed attempts: no SYN-ACK, RST, timeout. */
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
