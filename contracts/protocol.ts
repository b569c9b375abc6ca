/**
 * The master <-> agent protocol: JSON over HTTP. Agents call the master on its Mesos port
 * (default :5050); the master calls agents on theirs (default :5051). Field names are
 * snake_case like the Mesos JSON the master serves.
 *
 *   agent -> master  POST /api/v1/agents/register   RegisterRequest  -> RegisterResponse
 *   agent -> master  POST /api/v1/agents/heartbeat  HeartbeatRequest -> 200 {} | 404 (re-register)
 *   agent -> master  POST /api/v1/agents/status     StatusUpdate     -> 200 {} (idempotent by uuid)
 *                                                                       | 200 {"dropped":"stale"}
 *   master -> agent  POST /api/v1/launch            LaunchRequest    -> 200 {} | 409 duplicate
 *   master -> agent  POST /api/v1/kill              KillRequest      -> 200 {} (unknown task: 200)
 *   master -> agent  POST /api/v1/ping              PingRequest      -> 200 PingResponse
 *   admin  -> master DELETE /api/v1/agents/{id}     (?force=true)    -> 200 {agent_id, release_at}
 *
 * Only agents can speak it (until mutual TLS, #30, replaces the secret behind the same seam, the
 * master's `agentIdentity(req)`):
 * - **Secret.** A first registration (no agent_id) gets an id and `agent_secret`: 32 random bytes,
 *   base64url. The master stores only its SHA-256, with the agent record; the agent keeps it in its
 *   work dir (mode 0600) with its id. Every later call -- heartbeat, status, re-registration of a
 *   known agent_id -- carries `Authorization: Sextant-Agent <agent_id>:<secret>` (common/
 *   agent-credentials.ts), checked in constant time; the body's agent_id must be the header's, and a
 *   status update is accepted only for a task that runs on that agent. A refusal is 401 (no or
 *   malformed credentials) or 403 (unknown agent, wrong secret, someone else's task) with
 *   `{message, reason}`, and changes nothing. Reason `unknown_agent` on re-registration means the
 *   master has no record of that id (removed past its grace period): the agent drops its id and
 *   secret and registers as a new agent.
 * - **Sequence.** The agent numbers each task's updates (`seq`, from 1, +1 per update, persisted with
 *   the task); reports at registration carry the task's last `seq`. The master applies an update
 *   only if its seq is greater than the last it applied for the task; otherwise it answers
 *   200 `{"dropped":"stale"}` (so the sender's retry loop ends) and changes nothing.
 * - **Callback.** A new agent (or one re-registering from another address) is `pending`: no offers,
 *   no overlay share, not in `/master/state` slaves, until it answers the master's
 *   `POST /api/v1/ping {agent_id, nonce}` on its advertised ip:port with
 *   `{agent_id, proof: hex HMAC-SHA256(key = SHA-256(secret), nonce)}`. The master retries on
 *   every heartbeat of a pending agent.
 *
 * - **Mutual TLS** (#30; off only under `--insecure-dev`). Both ports are HTTPS with certificates of
 *   the cluster CA. An agent's certificate carries `spiffe://sextant/agent/<agent_id>` (URI SAN) and
 *   its address (IP SAN). A first registration comes without a client certificate (the only route
 *   that may), with the bootstrap token in `X-Sextant-Bootstrap-Token` and a CSR: the master checks
 *   the token (401 `missing_bootstrap_token` / `bad_bootstrap_token`, nothing stored), assigns the id,
 *   signs the CSR and answers `certificate`. Every later call -- re-registration included, which
 *   takes no token -- presents that certificate, and the agent id it names must be the one in the
 *   credentials and the body (403 `agent_mismatch`); the secret stays as a second factor. The
 *   master calls the agent with its own certificate and accepts only a server certificate naming
 *   the agent it meant to call.
 *
 * An agent that restarts re-registers with the same agent_id and secret (kept in its work dir) and
 * the tasks it still runs; the master reconciles (tasks it does not know are killed, tasks it
 * expected but the agent does not report become TASK_LOST). An agent unreachable past the timeout,
 * or removed by the operator (`sextant node rm`), may come back within the master's release grace
 * period and keep its id and overlay share; after it the master forgets it (store and snapshot).
 */

export type TaskState =
  | 'TASK_STAGING'
  | 'TASK_STARTING'
  | 'TASK_RUNNING'
  | 'TASK_KILLING'
  | 'TASK_FINISHED'
  | 'TASK_FAILED'
  | 'TASK_KILLED'
  | 'TASK_LOST'
  | 'TASK_ERROR'
  | 'TASK_UNREACHABLE'
  | 'TASK_GONE';

export const TERMINAL_STATES: ReadonlySet<TaskState> = new Set(['TASK_FINISHED', 'TASK_FAILED', 'TASK_KILLED', 'TASK_LOST', 'TASK_ERROR', 'TASK_GONE']);

/** Inclusive port range [begin, end]. */
export type PortRange = [number, number];

export interface Resources {
  cpus: number;
  mem: number;
  disk: number;
  ports: PortRange[];
}

export interface AgentRegistration {
  /** Set when re-registering; absent on first registration (the master assigns one). */
  agent_id?: string;
  hostname: string;
  /** The agent's IP: what tasks bind to, what Mesos `slave(1)@IP:PORT` shows. */
  ip: string;
  /**
   * The agent's IPv6 address on a dual-stack node (optional): its dispatcher listens there too, and
   * the overlay routes tasks' IPv6 traffic to it through the VXLAN (table 42), as it does for `ip`.
   */
  ip6?: string;
  port: number;
  resources: Resources;
  attributes: Record<string, string>;
}

export interface RegisterRequest extends AgentRegistration {
  /** Tasks the agent is running right now (on re-registration after a restart). */
  tasks: TaskReport[];
  /**
   * TLS bootstrap (mutual TLS on, first registration only): a PEM certificate signing request for
   * the key the agent made (it never leaves the node); sent with the bootstrap token in
   * `X-Sextant-Bootstrap-Token`.
   */
  csr?: string;
}

export interface RegisterResponse {
  agent_id: string;
  master_id: string;
  heartbeat_interval_ms: number;
  /** Issued when the master issued a new secret (first registration): keep it, send it on every call. */
  agent_secret?: string;
  /** True until the agent answered the master's ping on its own API (no offers meanwhile). */
  pending?: boolean;
  /** TLS bootstrap: the agent's certificate (PEM), signed by the cluster CA for the CSR it sent. */
  certificate?: string;
}

/** The header that carries the bootstrap token on a first registration under mutual TLS. */
export const BOOTSTRAP_TOKEN_HEADER = 'x-sextant-bootstrap-token';

/** master -> agent: prove you are the agent that registered with this id. */
export interface PingRequest {
  agent_id: string;
  nonce: string;
}

export interface PingResponse {
  agent_id: string;
  /** hex HMAC-SHA256(key = SHA-256 of the agent's secret, nonce). */
  proof: string;
}

/** A refusal of the agent protocol (401/403 body). */
export interface AgentRefusal {
  message: string;
  reason: AgentRefusalReason;
}

export type AgentRefusalReason =
  | 'missing_credentials'
  | 'malformed_credentials'
  | 'unknown_agent'
  | 'bad_secret'
  | 'agent_mismatch'
  | 'not_task_owner'
  | 'missing_bootstrap_token'
  | 'bad_bootstrap_token'
  | 'bootstrap_unavailable';

export interface HeartbeatRequest {
  agent_id: string;
}

export interface NetworkInfo {
  name?: string;
  ip_addresses: { protocol?: 'IPv4' | 'IPv6'; ip_address: string }[];
}

export interface ContainerStatus {
  network_infos: NetworkInfo[];
  executor_pid?: number;
}

export interface TaskReport {
  task_id: string;
  framework_id: string;
  state: TaskState;
  /** Seconds since the epoch, fractional (Mesos style). */
  timestamp: number;
  container_status?: ContainerStatus;
  healthy?: boolean;
  /** The task's last status sequence number on the agent (reports at registration). */
  seq?: number;
}

/** One entry of a task's status history (Mesos `statuses[]`), kept by master and agent alike. */
export interface TaskStatusEntry {
  state: TaskState;
  /** Seconds since the epoch, fractional. */
  timestamp: number;
  healthy?: boolean;
  message?: string;
  reason?: string;
  container_status?: ContainerStatus;
}

export interface StatusUpdate extends TaskReport {
  agent_id: string;
  /** Unique per update, so a retried POST is applied once. */
  uuid: string;
  /** Per task, from 1, one more for each update: the master drops one not above the last it applied. */
  seq: number;
  message?: string;
  reason?: string;
}

export interface HealthCheckSpec {
  protocol: 'HTTP' | 'TCP' | 'COMMAND';
  path?: string;
  /** Index into the task's ports. */
  port_index?: number;
  command?: string;
  interval_seconds: number;
  timeout_seconds: number;
  grace_period_seconds: number;
  max_consecutive_failures: number;
}

export interface DiscoveryPort {
  number: number;
  name?: string;
  protocol: string;
  labels?: { labels: { key: string; value: string }[] };
}

export interface TaskInfo {
  task_id: string;
  /** Marathon style: app `/group/app` -> `app.group`. */
  name: string;
  framework_id: string;
  agent_id: string;
  command: { value: string; shell: boolean; arguments?: string[] };
  /** Complete task environment additions (PORT0.., PORTS, HOST, MESOS_TASK_ID, MARATHON_APP_ID, app env). */
  env: Record<string, string>;
  resources: Resources;
  /** Host ports given to the task, in order (PORT0, PORT1, ...). */
  ports: number[];
  labels: { key: string; value: string }[];
  discovery?: { visibility: string; name: string; ports: { ports: DiscoveryPort[] } };
  health_check?: HealthCheckSpec;
  /** Virtual network to join through CNI (absent: host networking). */
  network?: { name: string; port_mappings?: { host_port: number; container_port: number; protocol: string }[] };
  /** SIGTERM -> SIGKILL grace. */
  kill_grace_period_ms: number;
}

export interface LaunchRequest {
  task: TaskInfo;
}

export interface KillRequest {
  task_id: string;
  grace_period_ms?: number;
}

export const API = {
  register: '/api/v1/agents/register',
  heartbeat: '/api/v1/agents/heartbeat',
  status: '/api/v1/agents/status',
  launch: '/api/v1/launch',
  kill: '/api/v1/kill',
  ping: '/api/v1/ping',
  /** DELETE (admin): remove an agent (`sextant node rm`). */
  agent: (id: string) => `/api/v1/agents/${encodeURIComponent(id)}`,
} as const;

export const DEFAULT_PORTS = { master: 5050, marathon: 8080, control: 5060, agent: 5051, mesosDnsDns: 61053, mesosDnsHttp: 8123 } as const;
