/**
 * `sextant control status [--master HOST:PORT] [--json]`: convergence per agent, from the
 * master's `GET /v1/control/agents`.
 */
import { masterUrl, stdio, type CliIo } from '../common/endpoint.js';
import { bodyText, requestJson } from '../common/http.js';
import type { ControlStatus } from './agents.js';

const USAGE = 'usage: sextant control status [--master HOST:PORT] [--json]\n';

/** `master`: the --master value, if given (masterUrl falls back to SEXTANT_MASTER and the default). */
export function parseArgs(argv: string[]): { cmd: 'status'; master?: string; json: boolean } | { cmd: 'help' } | string {
  if (argv.includes('--help') || argv.includes('-h')) return { cmd: 'help' };
  let master: string | undefined;
  let json = false;
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--json') json = true;
    else if (a === '--master') {
      const v = argv[++i];
      if (!v) return '--master needs HOST:PORT';
      master = v;
    } else if (a.startsWith('--master=')) master = a.slice('--master='.length);
    else if (a.startsWith('-')) return `unknown option ${a}`;
    else rest.push(a);
  }
  if (rest.length !== 1 || rest[0] !== 'status') return rest.length ? `unknown command '${rest.join(' ')}'` : 'missing command';
  return { cmd: 'status', master, json };
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
  let url: string;
  try {
    url = `${masterUrl(args.master)}/v1/control/agents`;
  } catch (e) {
    io.err(`sextant control: ${(e as Error).message}\n`);
    return 2;
  }
  let res: { status: number; body: unknown };
  try {
    res = await requestJson(url);
  } catch (e) {
    io.err(`sextant control: cannot reach ${url}: ${(e as Error).message}\n`);
    return 1;
  }
  if (res.status !== 200) {
    io.err(`sextant control: ${url} answered ${res.status} with ${bodyText(res.body)}\n`);
    return 1;
  }
  const s = res.body as ControlStatus;
  io.out(args.json ? JSON.stringify(s, null, 2) + '\n' : formatStatus(s));
  return s.agents.every((a) => a.lag === 0 && a.failed === null) ? 0 : 3;
}
