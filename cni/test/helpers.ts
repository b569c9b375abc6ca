/**
 * Shared fixtures for the cni tests: a host namespace standing in for the agent, task
 * namespaces, configs and CNI environments.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createNetns, spawnTracked, uniqueName, type Netns } from '../../test/lib/index.js';
import { runPlugin } from '../plugin.js';

interface T {
  teardown(fn: () => unknown): void;
}

export const nsPath = (ns: Netns | string) => `/run/netns/${typeof ns === 'string' ? ns : ns.name}`;

export async function tempDir(t: T, kind = 'cni'): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), `sextant-${kind}-`));
  t.teardown(() => rm(d, { recursive: true, force: true }));
  return d;
}

/** A network name short enough for `m-<name>` (15 chars). */
export const netName = () => uniqueName('n').slice(0, 13);

export function config(over: Record<string, unknown> & { cniVersion: string; name: string; dataDir: string; subnet: string }): Record<string, unknown> {
  const { dataDir, subnet, ...rest } = over;
  return {
    type: 'sextant-cni',
    mtu: 1420,
    ipam: { type: 'host-local', ranges: [[{ subnet }]], routes: [{ dst: '0.0.0.0/0' }], dataDir },
    ...rest,
  };
}

export function env(command: string, containerId: string, ns: Netns | string, ifname = 'eth0', extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { CNI_COMMAND: command, CNI_CONTAINERID: containerId, CNI_NETNS: nsPath(ns), CNI_IFNAME: ifname, CNI_PATH: '/usr/lib/cni', ...extra };
}

/** Run the plugin in-process with its host side in `host`. */
export async function plugin(host: Netns, e: NodeJS.ProcessEnv, conf: unknown): Promise<{ code: number; out: any }> {
  const { stdout, code } = await runPlugin(e, typeof conf === 'string' ? conf : JSON.stringify(conf), { netns: host.name });
  return { code, out: stdout ? JSON.parse(stdout) : undefined };
}

export { createNetns };

const SERVER = `
const net = require('node:net'), dgram = require('node:dgram');
const [ip, port, reply] = process.argv.slice(1);
net.createServer((s) => { s.end(reply); s.on('error', () => {}); }).listen(+port, ip, () => console.log('listening'));
`;

/** A TCP server in `ns` answering every connection with `reply`; killed on teardown. */
export async function serve(t: T, ns: Netns, ip: string, port: number, reply: string): Promise<void> {
  const p = spawnTracked(t, 'ip', ['netns', 'exec', ns.name, process.execPath, '-e', SERVER, ip, String(port), reply]);
  await p.waitFor(/listening/, 10000);
}

/** Connect from `ns` and return what the server sent ('' when refused or timed out). */
export async function fetchText(ns: Netns, ip: string, port: number, timeoutMs = 2000): Promise<string> {
  const client = `
const s = require('node:net').connect(${port}, '${ip}'); let d = '';
s.on('data', (c) => (d += c)); s.on('end', () => { process.stdout.write(d); process.exit(0); });
s.on('error', () => process.exit(0)); setTimeout(() => process.exit(0), ${timeoutMs});`;
  return (await ns.exec(process.execPath, ['-e', client])).trim();
}

/** Run the plugin executable as a separate process, its host side in `host`. */
export function execPlugin(pluginPath: string, host: Netns, e: NodeJS.ProcessEnv, conf: unknown): Promise<{ code: number; out: any; stderr: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn('ip', ['netns', 'exec', host.name, pluginPath], { env: { PATH: process.env.PATH, ...e }, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (err += d));
    p.on('error', reject);
    p.on('close', (code) => {
      try {
        resolve({ code: code ?? -1, out: out.trim() ? JSON.parse(out) : undefined, stderr: err });
      } catch (x) {
        reject(new Error(`plugin printed non-JSON: ${out} ${err}`));
      }
    });
    p.stdin.end(typeof conf === 'string' ? conf : JSON.stringify(conf));
  });
}

/** `n` namespaces, created a few at a time. */
export async function manyNetns(t: T, n: number): Promise<Netns[]> {
  const out: Netns[] = [];
  for (let i = 0; i < n; i += 10) out.push(...(await Promise.all(Array.from({ length: Math.min(10, n - i) }, () => createNetns(t, 't')))));
  return out;
}
