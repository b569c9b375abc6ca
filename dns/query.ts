/**
 * A DNS client for diagnostics (`sextant dns query`), off the hot path: dns2 builds the query and
 * parses the reply, and sends it over UDP with its UDP client. TCP (asked for, or after a
 * truncated UDP reply) goes through a small transport here, because dns2's TCP client has no
 * deadline and cuts an IPv6 server address at its first colon. The servers' own query path keeps
 * the hand-written codec in dns/wire.
 */
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import dns2 from 'dns2';
import { SextantError } from '../common/errors.js';

const { Packet } = dns2;
type Packet = InstanceType<typeof dns2.Packet>;
type Resource = Packet['answers'][number];

/** The server did not answer: timeout, connection refused or reset. */
export class DnsQueryError extends SextantError {}

export interface DnsServerAddress {
  host: string;
  port: number;
}

export interface DnsQuery {
  server: DnsServerAddress;
  name: string;
  /** A record type dns2 knows (`A`, `AAAA`, `SRV`, ...); see queryTypes(). */
  type: string;
  /** Ask over TCP from the start (otherwise UDP, and TCP again when the reply is truncated). */
  tcp?: boolean;
  /** Per transport attempt; default 2000 ms. */
  timeoutMs?: number;
}

export interface DnsRecord {
  name: string;
  ttl: number;
  class: string;
  type: string;
  /** The record data as a zone file writes it. */
  data: string;
}

export interface DnsReply {
  /** `host:port` (`[v6]:port`) of the server that answered. */
  server: string;
  transport: 'udp' | 'tcp';
  /** UDP answered with TC set, so this reply came over TCP. */
  retriedOverTcp: boolean;
  rcode: number;
  rcodeName: string;
  authoritative: boolean;
  truncated: boolean;
  ms: number;
  answers: DnsRecord[];
  authorities: DnsRecord[];
  additionals: DnsRecord[];
}

const TYPES = Packet.TYPE as Record<string, number>;
const CLASSES = Packet.CLASS as Record<string, number>;
const RCODES: Record<number, string> = { 0: 'NOERROR', 1: 'FORMERR', 2: 'SERVFAIL', 3: 'NXDOMAIN', 4: 'NOTIMP', 5: 'REFUSED' };
const nameOf = (table: Record<string, number>, n: number, prefix: string) => Object.keys(table).find((k) => table[k] === n) ?? `${prefix}${n}`;

/** The record types a query may ask for. */
export function queryTypes(): string[] {
  return Object.keys(TYPES).filter((t) => t !== 'EDNS');
}

export function rcodeName(rcode: number): string {
  return RCODES[rcode] ?? `RCODE${rcode}`;
}

export function formatServer(s: DnsServerAddress): string {
  return `${s.host.includes(':') ? `[${s.host}]` : s.host}:${s.port}`;
}

const fqdn = (n: string | undefined) => (n === undefined ? '' : n.endsWith('.') ? n : `${n}.`);

/** The rdata of a record as dig prints it. */
function recordData(r: Resource): string {
  switch (r.type) {
    case TYPES.A:
    case TYPES.AAAA:
      return r.address ?? '';
    case TYPES.SRV:
      return `${r.priority} ${r.weight} ${r.port} ${fqdn(r.target)}`;
    case TYPES.CNAME:
    case TYPES.PTR:
      return fqdn(r.domain);
    case TYPES.NS:
      return fqdn(r.ns);
    case TYPES.MX:
      return `${r.priority} ${fqdn(r.exchange)}`;
    case TYPES.SOA:
      return `${fqdn(r.primary)} ${fqdn(r.admin)} ${r.serial} ${r.refresh} ${r.retry} ${r.expiration} ${r.minimum}`;
    case TYPES.TXT:
    case TYPES.SPF:
      return [r.data ?? []].flat().map((s) => JSON.stringify(s)).join(' ');
    default:
      return '(not decoded)';
  }
}

function toRecord(r: Resource): DnsRecord {
  return { name: fqdn(r.name), ttl: r.ttl, class: nameOf(CLASSES, r.class, 'CLASS'), type: nameOf(TYPES, r.type, 'TYPE'), data: recordData(r) };
}

/** A record as one zone-file line. */
export function formatRecord(r: DnsRecord): string {
  return `${r.name}\t${r.ttl}\t${r.class}\t${r.type}\t${r.data}`;
}

function unanswered(q: DnsQuery, transport: string, e: unknown): DnsQueryError {
  const code = (e as NodeJS.ErrnoException).code;
  const at = `${formatServer(q.server)} over ${transport}`;
  const timeoutMs = q.timeoutMs ?? 2000;
  if (code === 'ETIMEDOUT') return new DnsQueryError(`no answer from ${at} within ${timeoutMs} ms (is a DNS server listening there?)`, { cause: e });
  if (code === 'ECONNREFUSED') return new DnsQueryError(`${at}: connection refused (no DNS server listening there)`, { cause: e });
  return new DnsQueryError(`${at}: ${(e as Error).message}`, { cause: e });
}

/** One query over TCP: length-prefixed (RFC 1035 4.2.2), within the deadline. */
function overTcp(q: DnsQuery, id: number): Promise<Packet> {
  const query = new Packet();
  query.header.id = id;
  query.header.rd = 1;
  query.questions.push({ name: q.name, type: TYPES[q.type]!, class: CLASSES.IN! } as Packet['questions'][number]);
  const body = query.toBuffer();
  const framed = Buffer.concat([Buffer.from([body.length >> 8, body.length & 0xff]), body]);
  const timeoutMs = q.timeoutMs ?? 2000;
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: q.server.host, port: q.server.port });
    let buf = Buffer.alloc(0);
    const fail = (e: Error) => {
      sock.destroy();
      reject(e);
    };
    sock.setTimeout(timeoutMs, () => fail(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' })));
    sock.on('error', fail);
    sock.on('connect', () => sock.write(framed));
    sock.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (buf.length < 2 || buf.length < 2 + buf.readUInt16BE(0)) return;
      sock.destroy();
      let p: Packet;
      try {
        p = Packet.parse(buf.subarray(2, 2 + buf.readUInt16BE(0)));
      } catch (e) {
        return reject(new Error(`unparseable reply: ${(e as Error).message}`));
      }
      if (p.header.id !== id) reject(new Error(`reply has ID ${p.header.id}, the query ${id}`));
      else resolve(p);
    });
    sock.on('end', () => fail(new Error('connection closed before a whole reply')));
  });
}

async function overUdp(q: DnsQuery): Promise<Packet> {
  const resolve = dns2.UDPClient({
    dns: q.server.host,
    port: q.server.port,
    socketType: net.isIPv6(q.server.host) ? 'udp6' : 'udp4',
    timeout: q.timeoutMs ?? 2000,
    retryOverTCP: false,
  });
  return resolve(q.name, q.type);
}

/**
 * Ask one server one question and say what it answered, over which transport, in how long.
 * Throws DnsQueryError when the server does not answer; any rcode is a reply, not an error.
 */
export async function queryDns(q: DnsQuery): Promise<DnsReply> {
  if (TYPES[q.type] === undefined || q.type === 'EDNS') throw new DnsQueryError(`unknown record type ${JSON.stringify(q.type)} (one of ${queryTypes().join(', ')})`);
  if (net.isIP(q.server.host) === 0) throw new DnsQueryError(`server ${JSON.stringify(q.server.host)} is not an IP address`);
  const t0 = performance.now();
  let transport: 'udp' | 'tcp' = q.tcp ? 'tcp' : 'udp';
  let retriedOverTcp = false;
  let p: Packet;
  try {
    p = q.tcp ? await overTcp(q, Packet.uuid()) : await overUdp(q);
    if (!q.tcp && p.header.tc) {
      transport = 'tcp';
      retriedOverTcp = true;
      p = await overTcp(q, Packet.uuid());
    }
  } catch (e) {
    throw unanswered(q, transport, e);
  }
  return {
    server: formatServer(q.server),
    transport,
    retriedOverTcp,
    rcode: p.header.rcode,
    rcodeName: rcodeName(p.header.rcode),
    authoritative: p.header.aa === 1,
    truncated: p.header.tc === 1,
    ms: Math.round((performance.now() - t0) * 100) / 100,
    answers: p.answers.map(toRecord),
    authorities: p.authorities.map(toRecord),
    additionals: p.additionals.filter((r) => r.type !== TYPES.EDNS).map(toRecord),
  };
}
