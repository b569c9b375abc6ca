/**
 * Tests never skip silently: a missing tool or privilege fails the test and names what is missing
 * and how to get it (`npm run setup`, run by `npm test`, installs all of them as root).
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const aptPackageOf: Record<string, string> = {
  dig: 'dnsutils',
  java: 'zookeeper',
  dnsperf: 'dnsperf',
  dnsmasq: 'dnsmasq-base',
  unbound: 'unbound',
  ip: 'iproute2',
  bridge: 'iproute2',
  nft: 'nftables',
  ipvsadm: 'ipvsadm',
  'linux.uml': 'user-mode-linux',
  modprobe: 'kmod',
  iperf3: 'iperf3',
  wrk: 'wrk',
  curl: 'curl',
  nsenter: 'util-linux',
  setpriv: 'util-linux',
  taskset: 'util-linux',
  python3: 'python3',
  openssl: 'openssl',
  tmux: 'tmux',
  '/usr/lib/cni/bridge': 'containernetworking-plugins',
  '/usr/lib/cni/host-local': 'containernetworking-plugins',
  '/usr/bin/chromium': 'chromium',
};

const extraPaths = ['/usr/sbin', '/sbin', '/usr/bin', '/usr/lib/cni'];

/** Absolute path of a tool, or undefined. */
export function which(tool: string): string | undefined {
  if (tool.startsWith('/')) return existsSync(tool) ? tool : undefined;
  const dirs = [...(process.env.PATH ?? '').split(':'), ...extraPaths];
  for (const d of dirs) if (d && existsSync(`${d}/${tool}`)) return `${d}/${tool}`;
  return undefined;
}

export class MissingTestRequirement extends Error {
  override name = 'MissingTestRequirement';
}

/** Throw naming every missing tool (and its Debian package). */
export function requireTools(...tools: string[]): Record<string, string> {
  const found: Record<string, string> = {};
  const missing: string[] = [];
  for (const t of tools) {
    const p = which(t);
    if (p) found[t] = p;
    else missing.push(aptPackageOf[t] ? `${t} (apt-get install ${aptPackageOf[t]})` : t);
  }
  if (missing.length) throw new MissingTestRequirement(`this test needs ${missing.join(', ')}; \`npm run setup\` installs them as root`);
  return found;
}

/** Throw unless running as root (kernel tests create namespaces, links and nft tables). */
export function requireRoot(): void {
  if (process.getuid?.() !== 0) throw new MissingTestRequirement('this test needs root (it creates network namespaces); run as root, as CI does');
}

/** Throw unless the kernel can do `ip netns add` here. */
export function requireNetns(): void {
  requireRoot();
  requireTools('ip');
  try {
    execFileSync('ip', ['netns', 'list'], { stdio: 'pipe' });
  } catch (e) {
    throw new MissingTestRequirement(`network namespaces unavailable: ${(e as Error).message}`);
  }
}
