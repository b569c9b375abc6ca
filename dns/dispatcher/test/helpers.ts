/**
 * Test peers for the dispatcher: a real dnsmasq, scripted UDP/TCP DNS servers for fault cases,
 * raw DNS clients, and an in-process dispatcher on a loopback block.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, requireTools, spawnTracked } from '../../../test/lib/index.js';
import { Dispatcher } from '../dispatcher.js';
import { parseDispatcherConfig } from '../config.js';
import { createRegistry } from '../../../common/metrics.js';
import type { Clock } from '../../../common/clock.js';

interface T {
  teardown(fn: () => unknown): void;
}

/** A query message. `edns` adds an OPT with that UDP size (and DO when `dnssecOk`). */
export function query(name: string, type: number, opts: { id?: number; edns?: number; dnssecOk?: boolean; rd?: boolean } = {}): Buffer {
  const labels = name.split('.').filter(Boolean);
  const qname = Buffer.concat([...labels.map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l, 'latin1')])), Buffer.from([0])]);
  const header = Buffer.alloc(12);
  header.writeUInt16BE(opts.id ?? (Math.random() * 0xffff) | 0, 0);
  header.writeUInt16BE(opts.rd === false ? 0 : 0x0100, 2);
  header.writeUInt16BE(1, 4);
  const tail = Buffer.alloc(4);
  tail.writeUInt16BE(type, 0);
  tail.writeUInt16BE(1, 2);
  const parts = [header, qname, tail];
  if (opts.edns) {
    header.writeUInt16BE(1, 10);
    const opt = Buffer.alloc(11);
    opt.writeUInt16BE(41, 1);
    opt.writeUInt16BE(opts.edns, 3);
    if (opts.dnssecOk) opt[7] = 0x80;
    parts.push(opt);
  }
  return Buffer.concat(parts);
}

export const rcode = (m: Buffer) => m[3]! & 0xf;
export const tc = (m: Buffer) => (m[2]! & 0x02) !== 0;
export const ancount = (m: Buffer) => m.readUInt16BE(6);

/** The A/AAAA addresses in the answer section (simple walker, for assertions). */
export function addresses(m: Buffer): string[] {
  let off = 12;
  const skip = () => {
    for (;;) {
      const l = m[off]!;
      if (l === 0) return void off++;
      if ((l & 0xc0) === 0xc0) return void (off += 2);
      off += l + 1;
    }
  };
  skip();
  off += 4;
  const out: string[] = [];
  for (let i = 0; i < ancount(m); i++) {
    skip();
    const type = m.readUInt16BE(off);
    const len = m.readUInt16BE(off + 8);
    const data = m.subarray(off + 10, off + 10 + len);
    if (type === 1) out.push([...data].join('.'));
    if (type === 28) out.push(net.SocketAddress ? Array.from({ length: 8 }, (_, j) => data.readUInt16BE(j * 2).toString(16)).join(':') : '');
    off += 10 + len;
  }
  return out;
}

export function udpAsk(host: string, port: number, msg: Buffer, timeoutMs = 3000): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const s = dgram.createSocket(net.isIPv6(host) ? 'udp6' : 'udp4');
    const timer = setTimeout(() => {
      s.close();
      reject(new Error(`no UDP answer from ${host}:${port} within ${timeoutMs} ms`));
    }, timeoutMs);
    s.on('message', (m) => {
      clearTimeout(timer);
      s.close();
      resolve(m);
    });
    s.send(msg, port, host);
  });
}

export function frame(msg: Buffer): Buffer {
  const len = Buffer.alloc(2);
  len.writeUInt16BE(msg.length);
  return Buffer.concat([len, msg]);
}

/** Send `msgs` on one TCP connection in one write; collect `expect` answers (in arrival order). */
export function tcpAsk(host: string, port: number, msgs: Buffer[], expect = msgs.length, timeoutMs = 3000): Promise<Buffer[]> {
  return new Promise((resolve, reject) => {
    const out: Buffer[] = [];
    let buf = Buffer.alloc(0);
    const s = net.connect({ host, port }, () => s.write(Buffer.concat(msgs.map(frame))));
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error(`got ${out.length}/${expect} TCP answers within ${timeoutMs} ms`));
    }, timeoutMs);
    s.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        out.push(buf.subarray(2, 2 + buf.readUInt16BE(0)));
        buf = buf.subarray(2 + buf.readUInt16BE(0));
      }
      if (out.length >= expect) {
        clearTimeout(timer);
        s.destroy();
        resolve(out);
      }
    });
    s.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

/** A real dnsmasq upstream on ip:port answering `--address` entries and an optional hosts file. */
export async function startDnsmasq(t: T, ip: string, opts: { addresses?: Record<string, string>; hosts?: string; extra?: string[] } = {}): Promise<number> {
  const { dnsmasq } = requireTools('dnsmasq');
  const port = await freePort(ip);
  const dir = mkdtempSync(join(tmpdir(), 'sx-dnsmasq-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const args = [`--no-daemon`, `--port=${port}`, `--listen-address=${ip}`, '--bind-interfaces', '--no-resolv', '--no-hosts', '--log-facility=-', `--pid-file=${join(dir, 'pid')}`, '--user=root'];
  for (const [name, addr] of Object.entries(opts.addresses ?? {})) args.push(`--address=/${name}/${addr}`);
  if (opts.hosts) {
    writeFileSync(join(dir, 'hosts'), opts.hosts);
    args.push(`--addn-hosts=${join(dir, 'hosts')}`);
  }
  args.push(...(opts.extra ?? []));
  const p = spawnTracked(t, dnsmasq!, args);
  await p.waitFor(/started, version/);
  return port;
}

export interface Scripted {
  port: number;
  received: Buffer[];
  /** The UDP socket (to answer from the right address and port). */
  udp: dgram.Socket;
}

/**
 * A scripted upstream on ip (UDP and TCP, same port). `reply` gets each query and returns the
 * answer (or undefined to stay silent), possibly after a delay.
 */
export async function scripted(
  t: T,
  ip: string,
  reply: (q: Buffer, transport: 'udp' | 'tcp', peer: { port: number; address: string }) => Buffer | undefined | Promise<Buffer | undefined>,
  /** The port (default: a free one). */
  at?: number,
): Promise<Scripted> {
  const port = at ?? (await freePort(ip));
  const received: Buffer[] = [];
  const udp = dgram.createSocket('udp4');
  udp.on('message', async (m, r) => {
    received.push(m);
    const out = await reply(m, 'udp', r);
    try {
      if (out) udp.send(out, r.port, r.address);
    } catch {
      /* closed at teardown */
    }
  });
  await new Promise<void>((res) => udp.bind(port, ip, () => res()));
  const tcp = net.createServer((s) => {
    let buf = Buffer.alloc(0);
    s.on('error', () => s.destroy());
    s.on('data', async (d) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        const m = buf.subarray(2, 2 + buf.readUInt16BE(0));
        buf = buf.subarray(2 + m.length);
        received.push(m);
        const out = await reply(m, 'tcp', { port: s.remotePort!, address: s.remoteAddress! });
        if (out && !s.destroyed) s.write(frame(out));
      }
    });
  });
  await new Promise<void>((res) => tcp.listen(port, ip, () => res()));
  t.teardown(() => {
    udp.close();
    tcp.close();
  });
  return { port, received, udp };
}

/** An answer to `q` with the given A addresses (and extra raw records), TTL 60. */
export function answer(q: Buffer, ips: string[], opts: { ttl?: number; rcode?: number; tc?: boolean; raw?: Buffer[] } = {}): Buffer {
  let qend = 12;
  while (q[qend] !== 0) qend += q[qend]! + 1;
  qend += 5;
  const header = Buffer.from(q.subarray(0, 12));
  header.writeUInt16BE(0x8180 | (opts.tc ? 0x0200 : 0) | (opts.rcode ?? 0), 2);
  const rrs = ips.map((ip) => {
    const rr = Buffer.alloc(16);
    rr.writeUInt16BE(0xc00c, 0);
    rr.writeUInt16BE(1, 2);
    rr.writeUInt16BE(1, 4);
    rr.writeUInt32BE(opts.ttl ?? 60, 6);
    rr.writeUInt16BE(4, 10);
    ip.split('.').forEach((p, i) => (rr[12 + i] = Number(p)));
    return rr;
  });
  const extra = opts.raw ?? [];
  header.writeUInt16BE(rrs.length + extra.length, 6);
  header.writeUInt16BE(0, 8);
  header.writeUInt16BE(0, 10);
  return Buffer.concat([header, q.subarray(12, qend), ...rrs, ...extra]);
}

/** An in-process dispatcher on `ip` (random ports), config overrides merged in. */
export async function startDispatcher(t: T, ip: string, cfg: Record<string, unknown>, opts: { clock?: Clock } = {}): Promise<{ d: Dispatcher; udp: number; tcp: number }> {
  const d = new Dispatcher(parseDispatcherConfig({ bind_ips: [ip], udp_port: 0, tcp_port: 0, ...cfg }), { registry: createRegistry(), clock: opts.clock });
  await d.start();
  t.teardown(() => d.stop());
  const a = d.addresses();
  return { d, udp: a.find((x) => x.transport === 'udp')!.port, tcp: a.find((x) => x.transport === 'tcp')!.port };
}

/** Current value of a counter/gauge (sum over label sets matching `labels`). */
export async function metric(d: Dispatcher, name: string, labels: Record<string, string> = {}): Promise<number> {
  const m = await d.registry.getSingleMetric(name)?.get();
  if (!m) return 0;
  return m.values.filter((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x)).reduce((s, v) => s + v.value, 0);
}

/**
 * A stub resolver's exchange as Node's resolver (c-ares 1.34) makes it with a server that has been
 * answering fast: each try gets about 1 s (c-ares's adaptive timeout, on Node's 1 s timer), each
 * try is sent from a new socket with the same ID, and an answer to an earlier try is lost (its
 * socket is closed). Rejects when no try got an answer.
 */
export async function stubAsk(host: string, port: number, msg: Buffer, tries = 2, tryMs = 1000): Promise<Buffer> {
  for (let i = 0; i < tries; i++) {
    try {
      return await udpAsk(host, port, msg, tryMs);
    } catch {
      /* the next try, from a new socket */
    }
  }
  throw new Error(`no answer from ${host}:${port} in ${tries} tries of ${tryMs} ms`);
}
