/**
 * One plugin shape for every component on both sides:
 *
 *   plugin(config) => (host) => Component
 *
 * `config` is the component's own options; `host` is what the process lends it: its handle, the
 * control plane's registration object, the metrics registry, a logger named for the service and the
 * process's health registry (its checks become the node's units on `/system/health/v1`).
 * Calling `plugin(config)(host)` does no I/O (no servers, sockets, probes, files): it only builds
 * objects and registers sources, consumers and routes. All I/O happens in `start(signal)`.
 */
import type { Component } from '../common/daemon.js';
import type { Logger } from '../common/log.js';
import type { Registry } from '../common/metrics.js';
import type { AgentHandle } from './agent.js';
import type { TlsMaterial } from '../common/tls-files.js';
import type { HealthChecks } from './health.js';
import type { AgentControl, MasterControl } from './control.js';
import type { MasterHandle } from './master.js';

export type { Component };

export interface PluginHost<Handle, Control> {
  readonly handle: Handle;
  readonly control: Control;
  readonly metrics: Registry;
  readonly log: Logger;
  /** Where the component registers its health checks (contracts/health.ts); absent in test doubles. */
  readonly health?: HealthChecks;
}

export type MasterHost = PluginHost<MasterHandle, MasterControl>;
export type AgentHost = PluginHost<AgentHandle, AgentControl>;

/** A component inside the master process (control plane, Mesos-DNS, overlay allocator, VIPs). */
export type MasterPlugin = (host: MasterHost) => Component;
/** A component inside the agent process (l4lb, overlay, CNI, dispatcher, control-plane client). */
export type AgentPlugin = (host: AgentHost) => Component;

/**
 * What the composition root hands a process once its core is up: one builder per service, in
 * start order. The process builds and starts them one after another; a builder resolves to
 * undefined for a service that is skipped (it logged why).
 */
export type ServiceBuilders<Handle> = (handle: Handle, flags?: ServiceFlags) => (() => Promise<Component | undefined>)[];

/** What the process's command line tells its services (`sextant master --superuser UID`). */
export interface ServiceFlags {
  /** The first superuser, created only when the identity store holds no account. */
  superuser?: { uid: string; password: string };
  /** The network metrics aggregator (`--vip-failure-threshold`, `--vip-failure-min-connections`, `--vip-drain-failing`, `--vip-metrics-interval-ms`). */
  netmetrics?: { threshold?: number; minConnections?: number; drain?: boolean; intervalMs?: number };
}

/**
 * A front: a component that runs on EVERY master, leader or follower, from before the election
 * (the HTTPS entry point). It is handed where this master's own APIs listen, not the MasterHandle
 * (a follower has none), and the `--admin-*` options of `sextant master`.
 */
export interface MasterFrontHost {
  readonly ip: string;
  readonly port: number;
  readonly marathonPort: number;
  readonly workDir: string;
  readonly hostname?: string;
  /** `--admin-port` (undefined: no entry point), `--admin-cert`/`--admin-key`, `--ca-dir`, `--admin-front` (undefined: nginx when installed, else node). */
  readonly admin: { port?: number; cert?: string; key?: string; caDir: string; front?: 'nginx' | 'node' };
  readonly metrics: Registry;
  readonly log: Logger;
  /** The master's mutual-TLS material: the front calls the master's ports and agents with it (absent: --insecure-dev, plain HTTP upstreams). */
  readonly tls?: TlsMaterial;
}
export type MasterFront = (host: MasterFrontHost) => Component | undefined;
