/**
 * Entering a network namespace for a subprocess, one way: `ip netns exec NAME argv...`. It works
 * for every command (not only `ip`), and besides the network namespace it gives the command the
 * namespace's view of /sys and the files under /etc/netns/NAME (a task's resolv.conf), which tasks
 * need. See docs/decisions.md. A namespace file outside /run/netns (a CNI runtime may hand
 * /proc/PID/ns/net) has no name `ip` can take, so only that case uses `nsenter --net=PATH`.
 */
import { SextantError } from './errors.js';

export const NETNS_DIR = '/run/netns';

/** A namespace given as a name or path that no command could enter. */
export class NetnsNameError extends SextantError {
  constructor(readonly netns: string, reason: string) {
    super(`network namespace "${netns}": ${reason}`);
  }
}

/** The name of a namespace given as `NAME`, `/run/netns/NAME` or `/var/run/netns/NAME`; undefined for other paths. */
export function netnsName(ns: string): string | undefined {
  if (ns.startsWith('/')) return /^\/(?:var\/)?run\/netns\/([^/]+)$/.exec(ns)?.[1];
  if (!ns || ns === '.' || ns === '..' || ns.includes('/') || ns.includes('\0')) throw new NetnsNameError(ns, 'not a namespace name nor an absolute path');
  return ns;
}

/** `argv` run inside the namespace `ns` (a name under /run/netns or a namespace file's path); unchanged when `ns` is undefined. */
export function inNetns(ns: string | undefined, argv: readonly string[]): string[] {
  if (ns === undefined) return [...argv];
  if (!argv.length) throw new NetnsNameError(ns, 'no command to run in it');
  const name = netnsName(ns);
  return name === undefined ? ['nsenter', `--net=${ns}`, '--', ...argv] : ['ip', 'netns', 'exec', name, ...argv];
}
