/**
 * The `spartan` interface carrying the dispatcher's addresses (DC/OS: a dummy link with
 * 198.51.100.1-3). Kernels without the dummy driver get an empty bridge instead, which holds local
 * addresses just as well. Idempotent "ensure": an existing link or address is success. `run`
 * executes `ip` (tests pass one that runs inside their own network namespace).
 */
import { isIPv6 } from 'node:net';
import { run as runProcess } from '../../common/proc.js';

export type IpRunner = (args: string[]) => Promise<string>;

/** `ip` in this process's namespace, through common/proc. */
export const hostIp: IpRunner = async (args) => (await runProcess(['ip', ...args], { timeoutMs: 10000 })).stdout;

/** Ensure the link exists with the addresses, up; returns the link kind used. */
export async function ensureDummyInterface(name: string, ips: string[], run: IpRunner = hostIp): Promise<'dummy' | 'bridge' | 'existing'> {
  let kind: 'dummy' | 'bridge' | 'existing' = 'existing';
  for (const k of ['dummy', 'bridge'] as const) {
    try {
      await run(['link', 'add', name, 'type', k]);
      kind = k;
      break;
    } catch (e) {
      const msg = (e as Error).message;
      if (/File exists/i.test(msg)) break;
      if (k === 'bridge' || !/Unknown device type|not supported/i.test(msg)) throw e;
    }
  }
  for (const ip of ips) await run(['addr', 'replace', `${ip}/${isIPv6(ip) ? 128 : 32}`, 'dev', name]);
  await run(['link', 'set', name, 'up']);
  return kind;
}
