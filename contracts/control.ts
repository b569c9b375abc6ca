/**
 * The control-plane snapshot: the cluster's network state as every agent needs it. Built on the
 * master from backbone state, pushed to agents as versioned snapshots and deltas, applied by the
 * agent's components (dispatcher zones, l4lb, overlay), which subscribe to the parts they need.
 * Every part is a list of entries with a stable `key`, so a delta is upserts + removed keys.
 */

export type Protocol = 'tcp' | 'udp';

export interface VipBackend {
  /** agentIP for host ports, taskIP on virtual networks. */
  ip: string;
  port: number;
  /** 1 = running and healthy (or no check); 0 = draining (unhealthy, not yet healthy, killing). */
  weight: number;
  task_id: string;
  agent_id: string;
}

export interface Vip {
  /** `${protocol}/${ip}:${port}` -- unique per VIP. */
  key: string;
  /** Named VIP: `/web` (label form) with framework; an IP VIP has no name. */
  name?: string;
  framework?: string;
  /** For named VIPs: `<label>.<framework>.l4lb.thisdcos.directory`. */
  dns_name?: string;
  ip: string;
  port: number;
  protocol: Protocol;
  backends: VipBackend[];
}

export type ZoneRecordType = 'A' | 'AAAA' | 'SRV' | 'CNAME' | 'TXT';

/** A record in a `thisdcos.directory` zone, served by every dispatcher. */
export interface ZoneRecord {
  /** `${name}/${type}/${data}` */
  key: string;
  /** Fully qualified, lowercase, no trailing dot, e.g. `web.marathon.l4lb.thisdcos.directory`. */
  name: string;
  type: ZoneRecordType;
  /** A/AAAA: the address; SRV: `priority weight port target`; CNAME: target; TXT: text. */
  data: string;
}

export interface OverlayNetwork {
  key: string; // the name
  name: string;
  subnet: string; // e.g. 9.0.0.0/8
  prefix: number; // per-agent prefix, e.g. 24
  subnet6?: string;
  prefix6?: number;
  mtu: number;
}

export interface OverlayAgent {
  key: string; // the agent id
  agent_id: string;
  /** Underlay address (the agent's IP). */
  ip: string;
  /** The agent's IPv6 address on a dual-stack node (`sextant agent --ip6`): routed through the VXLAN in table 42 like `ip`. */
  ip6?: string;
  vtep_ip: string; // e.g. 44.128.0.1/20
  vtep_mac: string; // e.g. 70:b3:d5:80:00:01
  /** Per network: the agent's slice, and the half of it used by the `m-<net>` bridge for tasks. */
  subnets: Record<string, { subnet: string; bridge: string; subnet6?: string; bridge6?: string }>;
}

export interface OverlayConfig {
  vtep_subnet: string;
  vtep_mac_oui: string;
  vni: number;
  vtep_name: string;
  vxlan_port: number;
}

/** DC/OS defaults (dcos-overlay). */
export const DEFAULT_OVERLAY: OverlayConfig = {
  vtep_subnet: '44.128.0.0/20',
  vtep_mac_oui: '70:B3:D5:00:00:00',
  vni: 1024,
  vtep_name: 'vtep1024',
  vxlan_port: 64000,
};

export interface IsolationRule {
  key: string;
  /** `network` or `network/cidr` */
  from: string;
  to: string;
  ports?: (number | string)[];
  protocol?: Protocol;
  action: 'allow';
}

export interface NetworkPolicy {
  key: string; // network name
  network: string;
  /** Towards other networks. Traffic inside one network is allowed. */
  default: 'allow' | 'deny';
}

export interface MasterEntry {
  key: string;
  id: string;
  ip: string;
  /** Mesos API, control plane and Mesos-DNS ports. */
  port: number;
  control_port: number;
  dns_port: number;
  leader: boolean;
}

/** The parts an agent can subscribe to, each a keyed list. */
export interface SnapshotParts {
  vips: Vip[];
  zones: ZoneRecord[];
  networks: OverlayNetwork[];
  overlay_agents: OverlayAgent[];
  isolation_rules: IsolationRule[];
  network_policies: NetworkPolicy[];
  masters: MasterEntry[];
}

export type PartName = keyof SnapshotParts;
export const PART_NAMES: PartName[] = ['vips', 'zones', 'networks', 'overlay_agents', 'isolation_rules', 'network_policies', 'masters'];

export interface Snapshot {
  /** Identifies the master's history: versions are only comparable within one history. */
  history: string;
  version: number;
  overlay: OverlayConfig;
  parts: SnapshotParts;
}

export interface Delta {
  history: string;
  from_version: number;
  version: number;
  upserts: Partial<SnapshotParts>;
  removes: Partial<Record<PartName, string[]>>;
}

/**
 * What an agent-side component implements to receive state. `apply` gets the whole current view
 * of the parts it subscribed to (components diff against the kernel themselves); throwing NACKs
 * the version with the error message.
 */
export interface SnapshotConsumer {
  readonly name: string;
  readonly parts: PartName[];
  apply(view: Snapshot, signal?: AbortSignal): Promise<void>;
}

/**
 * Master side: where a snapshot part comes from. The control plane registers one source per part
 * (vips from l4lb's VIP model, networks/overlay_agents/isolation_rules/network_policies from the
 * overlay allocator, zones and masters from the control plane itself), calls `entries()` after
 * `onChange` fires (coalesced), diffs by `key`, and pushes a new version.
 */
export interface PartSource<P extends PartName = PartName> {
  readonly part: P;
  entries(): SnapshotParts[P] | Promise<SnapshotParts[P]>;
  onChange(fn: () => void): () => void;
}

/**
 * The order in which an agent's control-plane client applies a snapshot to its consumers, by
 * consumer name: backends before routes before DNS, so a name never resolves before traffic to it
 * works. Consumers not named here apply after these, in the order they were added.
 */
export const CONSUMER_ORDER: readonly string[] = ['l4lb', 'overlay', 'dispatcher'];

/** Where a consumer applies: its index in CONSUMER_ORDER, or after all of them. */
export function consumerRank(name: string): number {
  const i = CONSUMER_ORDER.indexOf(name);
  return i < 0 ? CONSUMER_ORDER.length : i;
}

/** One agent in `GET /v1/control/agents`: what the master sent it, what it applied, what it refused. */
export interface AgentStatus {
  agent_id: string;
  connected: boolean;
  /** Remote address of the current (or last) stream. */
  peer: string;
  parts: PartName[];
  history: string;
  last_sent: number;
  applied: number;
  /** Last NACKed version and its error (null once a later version is applied). */
  failed: number | null;
  error: string | null;
  /** Current version minus applied (the whole version when the agent holds another history). */
  lag: number;
  connected_at: string;
  last_ack_at: string | null;
}

/** `GET /v1/control/agents` on the master: its history and current version, and every agent's. */
export interface ControlStatus {
  history: string;
  version: number;
  agents: AgentStatus[];
}

/**
 * The response header of the master's network and isolation writes: the control-plane version that
 * carries the write (or the current one when the write changed nothing), so a client waits for
 * exactly that version (`sextant network ...`, overlay/net-wait.ts). Absent without a control plane.
 */
export const CONTROL_VERSION_HEADER = 'x-sextant-control-version';

/**
 * The master process's control-plane registration object. The composition root makes one per
 * process and hands it to every master plugin: components add their part sources, the control
 * plane follows them.
 */
export interface MasterControl {
  /** Add a snapshot part source (one per part), before or after the control plane started. */
  addSource(source: PartSource): void;
  /** The control plane's side: `fn` gets every source added so far, then each one added later. */
  onSource(fn: (source: PartSource) => void): () => void;
  /**
   * The control-plane version that carries what every source says as of this call: the version a
   * write made before the call is published in, or the current one when it changed nothing.
   * Undefined when no control plane runs here (or it could not say in time).
   */
  settledVersion(): Promise<number | undefined>;
  /** The control plane's side: how to answer settledVersion (the last one given wins). */
  provideSettledVersion(fn: () => Promise<number | undefined>): void;
}

/**
 * The agent process's control-plane registration object, made by the composition root and handed
 * to every agent plugin: components add their snapshot consumers, the control-plane client
 * applies snapshots to them in CONSUMER_ORDER.
 */
export interface AgentControl {
  /** Add a snapshot consumer, before or after the control-plane client started. */
  addConsumer(consumer: SnapshotConsumer): void;
  /** The control-plane client's side: `fn` gets every consumer added so far, then each later one. */
  onConsumer(fn: (consumer: SnapshotConsumer) => void): () => void;
}
