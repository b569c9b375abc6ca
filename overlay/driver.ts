/**
 * Which kernel driver the agent uses. `netlink` (rtnetlink through the `netlink` package) is the
 * default when the component programs its own namespace; a netlink socket belongs to the namespace
 * of the process that opened it, so programming another namespace (`netns`, tests) uses iproute2
 * (`ip netns exec`). `SEXTANT_OVERLAY_KERNEL=iproute2|netlink` overrides the default.
 */
import { ConfigError } from '../common/index.js';
import { IprouteDriver, type KernelDriver } from './kernel.js';
import { NetlinkDriver } from './netlink.js';

export type KernelKind = 'iproute2' | 'netlink';
export const KERNEL_ENV = 'SEXTANT_OVERLAY_KERNEL';

export function kernelKind(netns: string | undefined, requested: string | undefined = process.env[KERNEL_ENV]): KernelKind {
  const r = requested?.trim() || undefined;
  if (r !== undefined && r !== 'iproute2' && r !== 'netlink') throw new ConfigError(KERNEL_ENV, `must be "iproute2" or "netlink", got "${r}"`);
  if (r === 'netlink' && netns) throw new ConfigError(KERNEL_ENV, `"netlink" programs the agent's own namespace only; netns "${netns}" needs "iproute2"`);
  return r ?? (netns ? 'iproute2' : 'netlink');
}

export function createDriver(kind: KernelKind, netns?: string): KernelDriver {
  return kind === 'netlink' ? new NetlinkDriver() : new IprouteDriver(netns);
}
