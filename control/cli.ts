/**
 * `sextant control status [--master HOST:PORT | --url URL] [--ca FILE] [--cert FILE --key FILE] [--json]`:
 * convergence per agent, from the master's `GET /v1/control/agents` (through common/cli-client.ts).
 * A master under mutual TLS (`--master https://IP:5050`) wants a client certificate of the cluster CA:
 * `--cert/--key` (else SEXTANT_CERT/SEXTANT_KEY); through the entry point (`--url`) the token is enough.
 */
import { ApiError, ClusterClient, ClusterConfigError, UnreachableError } from '../common/cli-client.js';
import { stdio, type CliIo } from '../common/endpoint.js';
import { bodyText } from '../common/http.js';
import type { ControlStatus } from './agents.js';

const USAGE = 'usage: sextant control status [--master HOST:PORT | --url URL] [--ca FILE] [--cert FILE --key FILE] [--json]\n';

type Flag = 'master' | 'url' | 'ca' | 'cert' | 'key';
type Parsed = { cmd: 'status'; json: boolean } & Partial<Record<Flag, string>>;

/** `master`/`url`/`ca`/`cert`/`key`: the values given, if any (the client falls back to the environment and the default). */
export function parseArgs(argv: string[]): Parsed | { cmd: 'help' } | string {
  if (argv.includes('--help') || argv.includes('-h')) return { cmd: 'help' };
  const given: Partial<Record<Flag, string>> = {};
  let json = false;
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const opt = /^--(master|url|ca|cert|key)(?:=(.*))?$/.exec(a);
    if (a === '--json') json = true;
    else if (opt) {
      const v = opt[2] ?? argv[++i];
      if (!v) return `--${opt[1]} needs a value`;
      given[opt[1] as Flag] = v;
    } else if (a.startsWith('-')) return `unknown option ${a}`;
    else rest.push(a);
  }
  if (rest.length !== 1 || rest[0] !== 'status') return rest.length ? `unknown command '${rest.join(' ')}'` : 'missing command';
  return { cmd: 'status', ...given, json };
}

export function formatStatus(s: ControlStatus): string {
  const head = ['AGENT', 'CONNECTED', 'SENT', 'APPLIED', 'LAG', 'FAILED', 'ERROR'];
  const rows = s.agents.map((a) => [a.agent_id, a.connected ? 'yes' : 'no', String(a.last_sent), String(a.applied), String(a.lag), a.failed === null ? '-' : String(a.failed), a.error ?? '']);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd();
  const converged = s.agents.filter((a) => a.lag === 0 && a.failed === null).length;
  return `history ${s.history} version ${s.version}: ${converged}/${s.agents.length} agents converged\n${[head, ...rows].map(line).join('\n')}\n`;
}

export async function main(argv: string[], io: CliIo = stdio): Promise<number> {
  const args = parseArgs(argv);
  if (typeof args === 'string') {
    io.err(`sextant control: ${args}\n${USAGE}`);
    return 2;
  }
  if (args.cmd === 'help') {
    io.out(USAGE);
    return 0;
  }
  let client: ClusterClient;
  try {
    client = new ClusterClient({ master: args.master, url: args.url, ca: args.ca, cert: args.cert, key: args.key });
  } catch (e) {
    if (!(e instanceof ClusterConfigError)) throw e;
    io.err(`sextant control: ${e.message}\n`);
    return 2;
  }
  const url = `${client.base('mesos')}/v1/control/agents`;
  let s: ControlStatus;
  try {
    s = await client.request<ControlStatus>('mesos', '/v1/control/agents');
  } catch (e) {
    if (e instanceof ApiError) io.err(`sextant control: ${url} answered ${e.status} with ${bodyText(e.body)}\n`);
    else if (e instanceof UnreachableError) io.err(`sextant control: ${e.message}\n`);
    else throw e;
    return 1;
  }
  io.out(args.json ? JSON.stringify(s, null, 2) + '\n' : formatStatus(s));
  return s.agents.every((a) => a.lag === 0 && a.failed === null) ? 0 : 3;
}
