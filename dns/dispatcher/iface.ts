/**
 * The `spartan` dummy interface carrying the dispatcher's addresses (DC/OS: 198.51.100.1-3).
 * Idempotent "ensure": an existing link or address is success. `run` executes `ip` (tests pass
 * one that runs inside their own network namespace).
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { isIPv6 } from 'node:net';

const pexec = promisify(execFile);

export type IpRunner = (args: string[]) => Promise<string>;

export const hostIp: IpRunner = async (args) => (await pexec('ip', args, { timeout: 10000 })).stdout;

export async function ensureDummyInterface(name: string, ips: string[], run: IpRunner = hostIp): Promise<void> {
  try {
    await run(['link', 'add', name, 'type', 'dummy']);
  } catch (e) {
    if (!/File exists/i.test((e as Error).message)) throw e;
  }
  for (const ip of ips) await run(['addr', 'replace', `${ip}/${isIPv6(ip) ? 128 : 32}`, 'dev', name]);
  await run(['link', 'set', name, 'up']);
}
