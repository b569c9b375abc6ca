/**
 * The master's records. These are what the store holds (JSON) and what `/master/state` and the
 * control plane read. A task record carries everything the data plane needs to route to it.
 */
import type { AgentRegistration, TaskInfo, TaskState, TaskStatusEntry } from '../contracts/index.js';

export interface AgentRecord extends AgentRegistration {
  agent_id: string;
  /** false once silent past the timeout (unreachable) until it re-registers. */
  active: boolean;
  registered_time: number;
  reregistered_time?: number;
  /** Hex SHA-256 of the agent's secret (protocol.ts); absent only in records from before secrets. */
  secret_sha256?: string;
  /** True until the agent answered the master's ping on its advertised ip:port: no offers, not in state slaves. */
  pending?: boolean;
  /** Seconds since the epoch it went unreachable or was removed; the release grace period runs from here. */
  inactive_since?: number;
  /** Removed by the operator (`sextant node rm`). */
  removed?: boolean;
}

/** Kept for readability in master code: the shared status entry. */
export type TaskStatusRecord = TaskStatusEntry;

export interface TaskRecord {
  info: TaskInfo;
  state: TaskState;
  statuses: TaskStatusRecord[];
  healthy?: boolean;
  /** The agent's IP (host of host ports). */
  agent_ip: string;
  agent_hostname: string;
  /** Task IPs as the agent reported them (virtual network), else empty. */
  task_ips: string[];
  /** Marathon app id (`/group/app`) and the config version the task was launched from. */
  app_id?: string;
  app_version?: string;
  /** Virtual network name when the task is on one. */
  network?: string;
  /** Seconds since the epoch. */
  staged_at: number;
  started_at?: number;
  /** Set when the master asked for the kill (so KILLED is expected, not a failure). */
  kill_requested?: boolean;
  /** The highest status sequence number applied from the agent (protocol.ts `seq`). */
  last_seq?: number;
}

export interface FrameworkRecord {
  id: string;
  name: string;
  registered_time: number;
  hostname: string;
  pid: string;
}

/** The store's keys (components other than the master use their own prefixes). */
export const KEYS = {
  masterId: 'master/id',
  agentSeq: 'master/agent-seq',
  agent: (id: string) => `master/agents/${id}`,
  agents: 'master/agents/',
  task: (id: string) => `master/tasks/${id}`,
  tasks: 'master/tasks/',
  framework: (name: string) => `master/frameworks/${name}`,
  frameworks: 'master/frameworks/',
  app: (id: string) => `marathon/apps${id}`,
  apps: 'marathon/apps/',
} as const;

export function isTerminal(s: TaskState): boolean {
  return s === 'TASK_FINISHED' || s === 'TASK_FAILED' || s === 'TASK_KILLED' || s === 'TASK_LOST' || s === 'TASK_ERROR' || s === 'TASK_GONE';
}
