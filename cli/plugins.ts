/**
 * Where the components that live inside the master and agent processes are wired in. The master
 * and agent CLIs call these after their core is up; each entry attaches one component.
 */
import type { MasterHandle } from '../master/protocol.js';
import type { Component } from '../common/daemon.js';

export type MasterPlugin = (m: MasterHandle) => Promise<Component | undefined>;
export const masterPlugins: MasterPlugin[] = [];

export interface AgentHandle {
  readonly agentId: string;
  readonly ip: string;
  readonly workDir: string;
  /** `ip:port` of the masters' Mesos API. */
  readonly masters: string[];
  readonly registry: import('../common/metrics.js').Registry;
  /** Mount extra HTTP routes on the agent's :5051 API (e.g. `/v1/vips`). */
  routes(register: (router: import('../common/http.js').Router) => void): void;
}
export type AgentPlugin = (a: AgentHandle) => Promise<Component | undefined>;
export const agentPlugins: AgentPlugin[] = [];
