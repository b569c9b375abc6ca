/**
 * The master handle: what the master process offers the components that run inside it, and the
 * durable store it lends them.
 */
import type { Router } from '../common/http.js';
import type { Registry } from '../common/metrics.js';
import type { Limits } from './limits.js';
import type { TlsMaterial } from '../common/tls-files.js';

/**
 * A small durable key-value store (the embedded file store now, ZooKeeper later). Values are JSON.
 * `put` resolves only once the value is durable (fsync'd), so "persisted before handed out" holds.
 */
export interface KvStore {
  get<T = unknown>(key: string): Promise<T | undefined>;
  put(key: string, value: unknown): Promise<void>;
  delete(key: string): Promise<void>;
  /** Entries whose key starts with prefix, sorted by key. */
  list<T = unknown>(prefix: string): Promise<[string, T][]>;
}

/**
 * What the master offers the components that run inside the master process (control plane,
 * Mesos-DNS, overlay allocator, VIP allocator). Components see state only through this.
 */
export interface MasterHandle {
  readonly masterId: string;
  readonly ip: string;
  /**
   * This node's mutual-TLS material (#30): the cluster CA, the master's certificate and key (URI SAN
   * `spiffe://sextant/master/<ip>`). Servers a component opens on the master serve it and require a
   * client certificate of the CA; clients present it. Absent under `--insecure-dev` and in test doubles.
   */
  readonly tls?: TlsMaterial;
  readonly port: number;
  /** The master's hostname (as in `/master/state`); absent in test doubles. */
  readonly hostname?: string;
  /** The master's work dir (its store, logs); absent in test doubles. */
  readonly workDir?: string;
  /** The current `/master/state` JSON (Mesos format). */
  state(): Record<string, unknown>;
  /** Called after every change of apps, tasks or agents (may be called often: coalesce). */
  onChange(fn: () => void): () => void;
  /** Durable store; components use their own key prefix (`overlay/`, `l4lb/`, `control/`). */
  readonly store: KvStore;
  /** Mount extra HTTP routes on the master's Mesos API port (e.g. `/v1/networks`). */
  routes(register: (router: Router) => void): void;
  /**
   * The routers of the HTTP APIs this process serves, by the DC/OS entry-point prefix they sit
   * under (`/mesos`, `/marathon`, `/net`, `/mesos_dns`), for in-process dispatch (the dashboard
   * answers `/marathon/v2/apps` on the Mesos port without a network hop). Components that serve
   * their own port add theirs. Absent in test doubles.
   */
  readonly apis?: Map<string, Router>;
  readonly registry: Registry;
  /** Address ownership (VIP ranges, node addresses, components' claims); absent in test doubles. */
  readonly addresses?: AddressOwnership;
  /**
   * Whether the master still holds a record of this agent (active, pending, unreachable or removed
   * within the release grace period). False once forgotten: its overlay share is released then.
   * Absent in test doubles (the overlay then falls back to its own `releaseAfterMs`).
   */
  knownAgent?(id: string): boolean;
  /** API bounds; absent in test doubles (components use DEFAULT_LIMITS). */
  readonly limits?: Limits;
  /**
   * The masters of the ZooKeeper election as this master sees them (every contender's MasterInfo).
   * Absent without ZooKeeper (one master on its file store) and in test doubles.
   */
  readonly election?: MasterElection;
}

/** One master contending in the ZooKeeper election, from the MasterInfo JSON its znode holds. */
export interface ElectedMaster {
  /** MasterInfo `id`. */
  id: string;
  /** MasterInfo `address.ip`. */
  ip: string;
  /** Its Mesos API port (MasterInfo `address.port`). */
  port: number;
  /** The elected leader (the lowest sequence whose MasterInfo could be read). */
  leader: boolean;
}

/** The contenders of the ZooKeeper election (Mesos's `json.info_<seq>` znodes under the Mesos path). */
export interface MasterElection {
  /**
   * Every contender right now, in election order (the leader first). A master that is not in the
   * election (restarting, its session expired) is not listed; a znode whose MasterInfo cannot be
   * read or parsed is left out. Empty while this master's own session is expired or it stopped.
   */
  masters(): ElectedMaster[];
  /** Called after the contenders or the leader changed; returns the function that stops it. */
  onChange(fn: () => void): () => void;
}

/** A claim on addresses, for the ownership checks. */
export interface AddressClaim {
  /** What holds it, for the error message: `agent S1 (10.0.0.2)`, `overlay network "dcos"`. */
  what: string;
  /** An address or a CIDR. */
  cidr: string;
  kind: 'node' | 'overlay' | 'other';
  /** The virtual network this claim is the subnet of: apps may join the networks named here. */
  network?: string;
}

/**
 * Which addresses a literal-IP VIP or a virtual network may use (the master's AddressBook). Each
 * refusal is undefined when the address is free, else the reason naming the conflict.
 */
export interface AddressOwnership {
  /** Add a source of claims, asked on every check; returns the function that removes it. */
  claim(source: () => AddressClaim[]): () => void;
  claims(): AddressClaim[];
  /** Where named VIPs get their addresses, per family (default 11.0.0.0/8 and fd01:c::/64); absent in test doubles. */
  readonly namedVipRanges?: { readonly 4: string; readonly 6: string };
  vipRefusal(ip: string): string | undefined;
  nodeRefusal(ip: string): string | undefined;
  subnetRefusal(cidr: string, skip?: (c: AddressClaim) => boolean): string | undefined;
}
