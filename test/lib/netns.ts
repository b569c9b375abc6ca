/**
 * Throwaway network namespaces for kernel tests. Everything a test does to the kernel happens
 * inside namespaces it created (never the host's), and they are deleted on teardown.
 */
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { inNetns } from '../../common/netns.js';
import { run } from '../../common/proc.js';
import { uniqueName } from './names.js';

const pexec = promisify(execFile);

export class Netns {
  constructor(readonly name: string) {}

  /** Run a command inside the namespace (common/proc); rejects with the command and its stderr on failure. */
  async exec(cmd: string, args: string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<string> {
    return (await run([cmd, ...args], { netns: this.name, input: opts.input, timeoutMs: opts.timeoutMs ?? 30000 })).stdout;
  }

  /** `ip ...` inside the namespace. */
  ip(...args: string[]): Promise<string> {
    return this.exec('ip', args);
  }

  /** The argv prefix to run something inside this namespace. */
  wrap(cmd: string, args: string[]): [string, string[]] {
    const [file, ...rest] = inNetns(this.name, [cmd, ...args]);
    return [file!, rest];
  }
}

interface Teardownable {
  teardown(fn: () => unknown): void;
}

/** Create a namespace with loopback up; deleted (with its links) on teardown. */
export async function createNetns(t: Teardownable, kind = 'ns'): Promise<Netns> {
  const name = uniqueName(kind);
  await pexec('ip', ['netns', 'add', name]);
  t.teardown(() => deleteNetns(name));
  const ns = new Netns(name);
  await ns.ip('link', 'set', 'lo', 'up');
  return ns;
}

export function deleteNetns(name: string): void {
  try {
    // Kill anything still running in it, by PID, then delete it.
    const pids = execFileSync('ip', ['netns', 'pids', name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
      .split(/\s+/)
      .filter(Boolean);
    for (const p of pids) {
      try {
        process.kill(Number(p), 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  } catch {
    /* namespace already gone */
  }
  try {
    execFileSync('ip', ['netns', 'del', name], { stdio: 'ignore' });
  } catch {
    /* already gone */
  }
}

/**
 * Join namespaces with veth pairs onto a bridge that lives in its own namespace (so the host's
 * links are never touched). Addresses come from `cidr` (a /24 base like `10.77.0`), .1 onward.
 */
export async function bridgeNamespaces(t: Teardownable, nss: Netns[], base: string, prefixLen = 24): Promise<{ hub: Netns; addrs: string[] }> {
  const hub = await createNetns(t, 'hub');
  await hub.ip('link', 'add', 'br0', 'type', 'bridge');
  await hub.ip('link', 'set', 'br0', 'up');
  const addrs: string[] = [];
  for (let i = 0; i < nss.length; i++) {
    const ns = nss[i]!;
    const peer = `p${i}`;
    await hub.ip('link', 'add', peer, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns.name);
    await hub.ip('link', 'set', peer, 'master', 'br0');
    await hub.ip('link', 'set', peer, 'up');
    const addr = `${base}.${i + 1}`;
    await ns.ip('addr', 'add', `${addr}/${prefixLen}`, 'dev', 'eth0');
    await ns.ip('link', 'set', 'eth0', 'up');
    addrs.push(addr);
  }
  return { hub, addrs };
}
