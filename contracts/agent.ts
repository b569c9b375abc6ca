/**
 * The agent handle: what the agent process offers the components that run inside it (l4lb,
 * overlay, CNI, dispatcher, control-plane client).
 */
import type { Router } from '../common/http.js';
import type { Registry } from '../common/metrics.js';
import type { NetworkAttacher } from './network.js';
import type { TlsMaterial } from '../common/tls-files.js';

export interface AgentHandle {
  readonly agentId: string;
  readonly ip: string;
  /** The node's mutual-TLS material (#30): the cluster CA and the agent's bootstrapped certificate (`spiffe://sextant/agent/<id>`); absent under `--insecure-dev`. */
  readonly tls?: TlsMaterial;
  /** The node's IPv6 address when it is dual-stack (`sextant agent --ip6`). */
  readonly ip6?: string;
  /** The agent's hostname (`--hostname`, else the OS's); absent in test doubles. */
  readonly hostname?: string;
  readonly workDir: string;
  /** `ip:port` of the masters' Mesos API (with `--master zk://...`: the elected one when the plugins start). */
  readonly masters: string[];
  /**
   * With `--master zk://...`: call `fn` with the new elected master (`[ip:port]`) whenever another
   * master is elected (never with an empty list: while none is, nothing changes). Returns an unsubscribe.
   */
  onMastersChange?(fn: (masters: string[]) => void): () => void;
  readonly registry: Registry;
  /** Mount extra HTTP routes on the agent's :5051 API (e.g. `/v1/vips`). */
  routes(register: (router: Router) => void): void;
  /** Give the agent its NetworkAttacher (the CNI plugin does). */
  setNetworkAttacher?(a: NetworkAttacher | undefined): void;
  /** Where tasks on virtual networks resolve names (the dispatcher plugin sets its addresses). */
  setNameservers?(ns: string[]): void;
  /**
   * A control-plane update starts being applied to a consumer; call the returned function when it is
   * done. The agent gives V8's idle memory back only when no update is being applied and none was
   * for a moment (agent/release.ts). The composition root wires it into the AgentControl's consumers.
   */
  applyingUpdate?(): () => void;
}
