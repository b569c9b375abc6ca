/**
 * What `sextant up` checks before it starts anything: every address:port it will bind is free in
 * this network namespace (a bind that is closed at once; nothing is sent anywhere), the work dir is
 * not another running `up`'s, and the status file is not another running `up`'s (nor some other
 * file). A busy port is
 * reported with who holds it (port-holders.ts).
 */
import dgram from 'node:dgram';
import { existsSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { commandLine, describeHolders, portHolders, type Proto } from './port-holders.js';
import { isRunning, LOCK_FILE, lockOwner } from './up-lock.js';
import { agentIpOf, masterIpOf, type UpOptions } from './up-args.js';
import { readStatusFile } from './up-status.js';
import { zooKeeperServerProblems } from '../master/index.js';

export interface PlannedBind {
  proto: Proto;
  host: string;
  port: number;
  /** What binds it, for the message (`master Mesos API`). */
  what: string;
}

/**
 * Every address `up` (and the processes it starts) will bind in the host's network namespace.
 * With --netns the master and agents live in namespaces this run creates, so only the ports
 * forwarded to 127.0.0.1 are in the host's.
 */
export function plannedBinds(o: UpOptions): PlannedBind[] {
  if (o.netns && o.masters > 1) {
    // Each master and its ZooKeeper server live in their own namespace; the host sees them on
    // <ip-base>.k through the forwarder (cli/up-netns.ts).
    return Array.from({ length: o.masters }, (_, k) => masterIpOf(o, k)).flatMap((m, k) => [
      { proto: 'tcp' as const, host: m, port: o.masterPort, what: `master ${k + 1} Mesos API (forwarded from the netns)` },
      { proto: 'tcp' as const, host: m, port: o.marathonPort, what: `master ${k + 1} Marathon (forwarded from the netns)` },
      { proto: 'tcp' as const, host: m, port: o.zkPorts.client, what: `ZooKeeper server ${k + 1} client port (forwarded from the netns)` },
      ...(o.adminPort ? [{ proto: 'tcp' as const, host: m, port: o.adminPort, what: `master ${k + 1} entry point HTTPS (forwarded from the netns)` }] : []),
    ]);
  }
  if (o.netns) {
    return [
      { proto: 'tcp', host: '127.0.0.1', port: o.masterPort, what: 'master Mesos API (forwarded from the netns)' },
      { proto: 'tcp', host: '127.0.0.1', port: o.marathonPort, what: 'Marathon (forwarded from the netns)' },
      ...(o.adminPort ? [{ proto: 'tcp' as const, host: '127.0.0.1', port: o.adminPort, what: 'entry point HTTPS (forwarded from the netns)' }] : []),
    ];
  }
  const out: PlannedBind[] = [];
  for (let k = 0; k < o.masters; k++) {
    const m = masterIpOf(o, k);
    const who = o.masters > 1 ? `master ${k + 1} ` : 'master ';
    out.push({ proto: 'tcp', host: m, port: o.masterPort, what: `${who}Mesos API` });
    out.push({ proto: 'tcp', host: m, port: o.marathonPort, what: o.masters > 1 ? `master ${k + 1} Marathon` : 'Marathon' });
    if (o.adminPort) out.push({ proto: 'tcp', host: m, port: o.adminPort, what: `${o.masters > 1 ? who : ''}entry point HTTPS (--admin-port)` });
    if (o.masterServices.includes('control')) out.push({ proto: 'tcp', host: m, port: o.controlPort, what: `${o.masters > 1 ? who : ''}control plane gRPC (SEXTANT_CONTROL_PORT)` });
    if (o.masterServices.includes('mesos-dns')) {
      out.push({ proto: 'udp', host: m, port: o.mesosDnsPort, what: `${o.masters > 1 ? who : ''}Mesos-DNS DNS` });
      out.push({ proto: 'tcp', host: m, port: o.mesosDnsPort, what: `${o.masters > 1 ? who : ''}Mesos-DNS DNS` });
      out.push({ proto: 'tcp', host: m, port: o.mesosDnsHttpPort, what: `${o.masters > 1 ? who : ''}Mesos-DNS HTTP (SEXTANT_MESOS_DNS_HTTP_PORT)` });
    }
    if (o.masters > 1) {
      out.push({ proto: 'tcp', host: m, port: o.zkPorts.client, what: `ZooKeeper server ${k + 1} client port (--zk-port)` });
      out.push({ proto: 'tcp', host: m, port: o.zkPorts.peer, what: `ZooKeeper server ${k + 1} peer port` });
      out.push({ proto: 'tcp', host: m, port: o.zkPorts.election, what: `ZooKeeper server ${k + 1} election port` });
    }
  }
  for (let i = 0; i < o.agents; i++) out.push({ proto: 'tcp', host: agentIpOf(o, i), port: o.agentPort, what: `agent ${i + 1} API` });
  return out;
}

/** Two planned binds on the same proto/address/port (e.g. --master-port equal to --marathon-port). */
export function duplicateBinds(plan: PlannedBind[]): string[] {
  const seen = new Map<string, PlannedBind>();
  const out: string[] = [];
  for (const b of plan) {
    const key = `${b.proto}/${b.host}/${b.port}`;
    const first = seen.get(key);
    if (first) out.push(`${b.host}:${b.port}/${b.proto} would be bound twice: by the ${first.what} and the ${b.what}`);
    else seen.set(key, b);
  }
  return out;
}

/** Try the bind and close it at once; the error code when it fails. */
async function tryBind(b: PlannedBind): Promise<string | undefined> {
  if (b.proto === 'udp') {
    const s = dgram.createSocket(net.isIPv6(b.host) ? 'udp6' : 'udp4');
    return new Promise((resolve) => {
      s.once('error', (e: NodeJS.ErrnoException) => {
        s.close();
        resolve(e.code ?? e.message);
      });
      s.bind({ port: b.port, address: b.host, exclusive: true }, () => s.close(() => resolve(undefined)));
    });
  }
  const s = net.createServer();
  return new Promise((resolve) => {
    s.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
    s.listen({ port: b.port, host: b.host, exclusive: true }, () => s.close(() => resolve(undefined)));
  });
}

function explain(b: PlannedBind, code: string): string {
  const where = `${b.host.includes(':') ? `[${b.host}]` : b.host}:${b.port}/${b.proto} (${b.what})`;
  if (code === 'EADDRINUSE') return `${where} is in use by ${describeHolders(portHolders(b.proto, b.host, b.port))}`;
  if (code === 'EADDRNOTAVAIL') return `${where}: ${b.host} is not an address of this host`;
  if (code === 'EACCES') return `${where}: permission denied (ports below 1024 need root)`;
  return `${where} cannot be bound: ${code}`;
}

/** Problems with the ports, one line each; empty when every planned bind is free. */
export async function checkBinds(plan: PlannedBind[]): Promise<string[]> {
  const dups = duplicateBinds(plan);
  if (dups.length) return dups;
  const out: string[] = [];
  for (const b of plan) {
    const code = await tryBind(b);
    if (code) out.push(explain(b, code));
  }
  return out;
}

/**
 * Why the status file may not be (re)written: a running `sextant up` other than this one keeps it,
 * or something that is not a status file is there (never overwritten).
 */
function statusFileProblem(path: string): string | undefined {
  if (!existsSync(path)) return undefined;
  const s = readStatusFile(path);
  if (!s) return `--status-file ${path} exists and is not a sextant up status file; not overwriting it`;
  if (s.state === 'stopped' || s.pid === process.pid) return undefined;
  const ref = { pid: s.pid, startTime: s.startTime };
  return isRunning(ref) ? `--status-file ${path} is kept by a running sextant up, ${describeHolders([{ pid: ref.pid, command: commandLine(ref.pid) }])}` : undefined;
}

/** Everything that stops this `up` from starting, one line each (empty: go). Starts nothing. */
export async function preflight(o: UpOptions): Promise<string[]> {
  const out: string[] = [];
  const owner = lockOwner(join(o.workDir, LOCK_FILE));
  if (owner) out.push(`--work-dir ${o.workDir} is in use by a running sextant up, ${describeHolders([{ pid: owner.pid, command: commandLine(owner.pid) }])}`);
  if (o.statusFile) {
    const s = statusFileProblem(o.statusFile);
    if (s) out.push(s);
  }
  if (o.masters > 1) out.push(...zooKeeperServerProblems().map((p) => `--masters ${o.masters} needs a ZooKeeper server: ${p}`));
  out.push(...(await checkBinds(plannedBinds(o))));
  return out;
}
