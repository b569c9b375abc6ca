/**
 * `sextant dns query NAME [--type A] [--agent IP[:PORT]] [--server IP:PORT] [--tcp] [--json]`:
 * asks one DNS server (an agent's dispatcher, Mesos-DNS, any server) one question and prints the
 * records and which server answered, over which transport, with which rcode, in how long.
 * Exit 0 on NOERROR (with or without records), 1 when the server gave another rcode or did not
 * answer, 2 on bad usage.
 */
import { isIP } from 'node:net';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { stdio, type CliIo } from '../common/endpoint.js';
import { DnsQueryError, formatRecord, queryDns, queryTypes, type DnsReply, type DnsServerAddress } from './query.js';

const DNS_PORT = 53;

/** `IP`, `IP:PORT`, `[IPv6]:PORT` or a bare IPv6 address; a missing port is 53. */
export function parseServer(v: string, what: string): DnsServerAddress {
  const text = v.trim();
  const bad = () => new InvalidArgumentError(`${what} ${JSON.stringify(v)} is not an IP address, IP:PORT or [IPv6]:PORT`);
  let host = text;
  let port = String(DNS_PORT);
  const bracket = /^\[([^\]]+)\](?::(\d+))?$/.exec(text);
  if (bracket) [host, port] = [bracket[1]!, bracket[2] ?? port];
  else if (isIP(text) !== 6 && text.includes(':')) [host, port] = [text.slice(0, text.lastIndexOf(':')), text.slice(text.lastIndexOf(':') + 1)];
  if (isIP(host) === 0 || !/^\d{1,5}$/.test(port) || Number(port) < 1 || Number(port) > 65535) throw bad();
  return { host, port: Number(port) };
}

function parseType(v: string): string {
  const t = v.toUpperCase();
  if (!queryTypes().includes(t)) throw new InvalidArgumentError(`unknown record type; one of ${queryTypes().join(', ')}`);
  return t;
}

function parseTimeout(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 60_000) throw new InvalidArgumentError('milliseconds, 1 to 60000');
  return n;
}

interface QueryOptions {
  type: string;
  agent?: DnsServerAddress;
  server?: DnsServerAddress;
  tcp?: boolean;
  json?: boolean;
  timeout: number;
}

function summary(r: DnsReply): string {
  const how = r.retriedOverTcp ? 'tcp (the udp reply was truncated)' : r.transport;
  const flags = [r.authoritative ? 'authoritative' : 'not authoritative', ...(r.truncated ? ['truncated'] : [])];
  return `${r.server} over ${how} answered ${r.rcodeName} in ${r.ms} ms (${flags.join(', ')})`;
}

/** What a reply means for the exit code and stderr: undefined when it is a plain NOERROR. */
function problem(r: DnsReply, name: string, type: string): string | undefined {
  if (r.rcodeName === 'NOERROR') return undefined;
  if (r.rcodeName === 'NXDOMAIN') return `${name} does not exist: ${summary(r)}`;
  if (r.rcodeName === 'SERVFAIL') return `the server failed to resolve ${name} ${type}: ${summary(r)}`;
  return `${name} ${type} not answered: ${summary(r)}`;
}

async function runQuery(name: string, o: QueryOptions, io: CliIo): Promise<number> {
  if (o.agent && o.server) {
    io.err('sextant dns query: give --agent or --server, not both\n');
    return 2;
  }
  const server = o.server ?? o.agent ?? { host: '127.0.0.1', port: DNS_PORT };
  let reply: DnsReply;
  try {
    reply = await queryDns({ server, name, type: o.type, tcp: o.tcp, timeoutMs: o.timeout });
  } catch (e) {
    if (!(e instanceof DnsQueryError)) throw e;
    io.err(`sextant dns query: ${e.message}\n`);
    return 1;
  }
  if (o.json) io.out(`${JSON.stringify({ question: { name, type: o.type }, ...reply }, null, 2)}\n`);
  else {
    io.out(`;; ${summary(reply)}\n`);
    for (const r of reply.answers) io.out(`${formatRecord(r)}\n`);
    if (!reply.answers.length && reply.rcodeName === 'NOERROR') io.out(`;; no ${o.type} records for ${name}\n`);
  }
  const why = problem(reply, name, o.type);
  if (why) io.err(`sextant dns query: ${why}\n`);
  return why ? 1 : 0;
}

function program(io: CliIo, done: (code: number) => void): Command {
  const root = new Command('sextant dns')
    .description('DNS client for diagnostics')
    .exitOverride()
    .configureOutput({ writeOut: io.out, writeErr: io.err });
  root
    .command('query')
    .description('ask one DNS server one question; print the records and which server answered (address, transport, rcode, time)')
    .argument('<name>', 'the name to look up, e.g. web.marathon.mesos')
    .addOption(new Option('--type <type>', 'record type').default('A').argParser(parseType))
    .addOption(new Option('--agent <ip[:port]>', "the agent's DNS dispatcher (port 53 unless given)").argParser((v) => parseServer(v, '--agent')))
    .addOption(new Option('--server <ip:port>', 'any DNS server, e.g. Mesos-DNS on MASTER_IP:61053 (port 53 unless given)').argParser((v) => parseServer(v, '--server')))
    .option('--tcp', 'ask over TCP (otherwise UDP, and TCP again if the reply is truncated)')
    .option('--json', 'print the reply as JSON')
    .addOption(new Option('--timeout <ms>', 'wait this long for each answer').default(2000).argParser(parseTimeout))
    .addHelpText('after', '\nWithout --agent or --server, asks 127.0.0.1:53. Exit 0 on NOERROR, 1 on any other rcode or no answer, 2 on bad usage.')
    .action(async (name: string, o: QueryOptions) => done(await runQuery(name, o, io)));
  return root;
}

export async function main(argv: string[], io: CliIo = stdio): Promise<number> {
  let code = 0;
  const p = program(io, (c) => (code = c));
  if (argv.length === 0) {
    io.err(p.helpInformation());
    return 2;
  }
  try {
    await p.parseAsync(argv, { from: 'user' });
  } catch (e) {
    if (!(e instanceof CommanderError)) throw e;
    return e.exitCode === 0 ? 0 : 2;
  }
  return code;
}
