/**
 * Who holds a local address:port, from the kernel's socket tables: /proc/net/{tcp,tcp6,udp,udp6}
 * give the socket inode bound to each address, /proc/<pid>/fd links name the process owning that
 * inode. Reads only; never opens a connection. Sockets of other network namespaces are not in
 * these tables, and a process we may not inspect shows as unknown.
 */
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { endianness } from 'node:os';
import net from 'node:net';

export type Proto = 'tcp' | 'udp';

export interface BoundSocket {
  proto: Proto;
  /** The local address in its usual text form (`127.0.0.1`, `::`, `::ffff:127.0.0.1`). */
  host: string;
  port: number;
  /** The TCP state as the kernel numbers it (0x0A LISTEN, 0x07 CLOSE = bound, not listening). */
  state: number;
  inode: number;
}

export interface Holder {
  pid: number;
  command: string;
}

const TCP_LISTEN = 0x0a;
const TCP_CLOSE = 0x07;

/** One 32-bit word of /proc/net's hex address, in the byte order the kernel printed it. */
function wordBytes(hex: string, little: boolean): number[] {
  const b = [0, 2, 4, 6].map((i) => parseInt(hex.slice(i, i + 2), 16));
  return little ? b.reverse() : b;
}

/** `0100007F` -> 127.0.0.1; 32 hex digits -> an IPv6 address (each word in host byte order). */
export function decodeAddress(hex: string, little = endianness() === 'LE'): string {
  if (hex.length === 8) return wordBytes(hex, little).join('.');
  if (hex.length !== 32) throw new Error(`bad /proc/net address '${hex}'`);
  const bytes = [0, 8, 16, 24].flatMap((i) => wordBytes(hex.slice(i, i + 8), little));
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i]! << 8) | bytes[i + 1]!).toString(16));
  const v4mapped = bytes.slice(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff;
  if (v4mapped) return `::ffff:${bytes.slice(12).join('.')}`;
  return compressV6(groups);
}

function compressV6(groups: string[]): string {
  // The longest run of zero groups (two or more) becomes `::`.
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== '0') {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > bestLen) [best, bestLen] = [i, j - i];
    i = j;
  }
  if (best < 0) return groups.join(':');
  return `${groups.slice(0, best).join(':')}::${groups.slice(best + bestLen).join(':')}`;
}

/** Parse one /proc/net/{tcp,udp}[6] table (the header line is skipped). */
export function parseSocketTable(text: string, proto: Proto): BoundSocket[] {
  const out: BoundSocket[] = [];
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 10) continue;
    const [addr, port] = f[1]!.split(':');
    out.push({ proto, host: decodeAddress(addr!), port: parseInt(port!, 16), state: parseInt(f[3]!, 16), inode: Number(f[9]) });
  }
  return out;
}

function readTables(proto: Proto): BoundSocket[] {
  return ['', '6'].flatMap((v) => {
    try {
      return parseSocketTable(readFileSync(`/proc/net/${proto}${v}`, 'utf8'), proto);
    } catch {
      return []; // no IPv6 in this kernel, or no /proc
    }
  });
}

const WILDCARDS = new Set(['0.0.0.0', '::']);

/**
 * Does a socket bound to `s` stop us binding `host:port`? Same address, or either side is a
 * wildcard of the family (an IPv6 `::` socket may cover IPv4 too), or the IPv4-mapped form.
 */
export function blocks(s: BoundSocket, proto: Proto, host: string, port: number): boolean {
  if (s.proto !== proto || s.port !== port) return false;
  // TCP: only listeners and bound, unconnected sockets hold the port (connections do not, with
  // SO_REUSEADDR, which Node sets on servers).
  if (proto === 'tcp' && s.state !== TCP_LISTEN && s.state !== TCP_CLOSE) return false;
  const v6 = net.isIPv6(host);
  if (s.host === host || s.host === `::ffff:${host}`) return true;
  if (s.host === '::') return true;
  if (s.host === '0.0.0.0') return !v6 || host === '::';
  return WILDCARDS.has(host) && net.isIPv6(s.host) === v6;
}

/** The inodes of sockets that stop us binding host:port. */
export function blockingInodes(proto: Proto, host: string, port: number, tables: BoundSocket[] = readTables(proto)): number[] {
  return [...new Set(tables.filter((s) => blocks(s, proto, host, port)).map((s) => s.inode).filter((i) => i > 0))];
}

/** Every process with an fd on one of the socket inodes (pid and command line). */
export function processesOwning(inodes: number[]): Holder[] {
  if (!inodes.length) return [];
  const wanted = new Set(inodes.map((i) => `socket:[${i}]`));
  const out: Holder[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${e}/fd`);
    } catch {
      continue; // gone, or not ours to see
    }
    const owns = fds.some((fd) => {
      try {
        return wanted.has(readlinkSync(`/proc/${e}/fd/${fd}`));
      } catch {
        return false;
      }
    });
    if (owns) out.push({ pid: Number(e), command: commandLine(Number(e)) });
  }
  return out;
}

export function commandLine(pid: number, max = 160): string {
  try {
    const s = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ');
    return s.length > max ? `${s.slice(0, max - 3)}...` : s || '?';
  } catch {
    return '?';
  }
}

/** Who holds host:port/proto in this network namespace; empty when nobody visible does. */
export function portHolders(proto: Proto, host: string, port: number): Holder[] {
  return processesOwning(blockingInodes(proto, host, port));
}

/** `pid 123 (node sextant.js master ...)`, several joined, or `unknown` when none is visible. */
export function describeHolders(holders: Holder[]): string {
  if (!holders.length) return 'unknown (no visible process holds it: another user or namespace?)';
  return holders.map((h) => `pid ${h.pid} (${h.command})`).join(', ');
}
