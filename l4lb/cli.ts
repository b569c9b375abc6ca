/** `sextant vip ls [--agent http://IP:5051/v1/vips] [--json]`: the VIPs an agent has programmed. */
import { endpointUrl, stdio, type CliIo } from '../common/endpoint.js';
import { ApiError, callJson, UnreachableError } from '../common/cli-client.js';
import { bodyText } from '../common/http.js';

const USAGE = 'usage: sextant vip ls [--agent http://IP:5051/v1/vips] [--json]\n';

interface ApiVip {
  vip: string;
  protocol: string;
  name?: string;
  dns_name?: string;
  backend: { ip: string; port: number; weight: number }[];
}

/** `--agent` as an address (IP, IP:PORT, http://IP:PORT) or a full URL of the VIPs API. */
export function agentUrl(v: string | undefined): string {
  const base = v ?? '127.0.0.1:5051';
  const text = /^https?:\/\//.test(base) ? base : `http://${base}`;
  const url = URL.canParse(text) ? new URL(text) : undefined;
  return url && url.pathname !== '/' ? url.toString() : `${endpointUrl(base, 5051, '--agent')}/v1/vips`;
}

export function formatVips(vips: ApiVip[]): string {
  const rows = [['VIP', 'PROTO', 'NAME', 'BACKENDS']];
  for (const v of vips) {
    const backends = v.backend.map((b) => `${b.ip.includes(':') ? `[${b.ip}]` : b.ip}:${b.port}${b.weight === 0 ? '(drain)' : ''}`).join(',');
    rows.push([v.vip, v.protocol, v.dns_name ?? v.name ?? '-', backends || '-']);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')).join('\n') + '\n';
}

export async function main(argv: string[], io: CliIo = stdio): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    io.out(USAGE);
    return 0;
  }
  const [cmd, ...rest] = argv;
  if (cmd !== 'ls') {
    io.err(USAGE);
    return 2;
  }
  let agent: string | undefined;
  let json = false;
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i]!;
    if (a === '--json') json = true;
    else if (a === '--agent') agent = rest[++i];
    else if (a.startsWith('--agent=')) agent = a.slice(8);
    else {
      io.err(`sextant vip: unknown option ${a}\n${USAGE}`);
      return 2;
    }
  }
  let url: string;
  try {
    url = agentUrl(agent);
  } catch (e) {
    io.err(`sextant vip: ${(e as Error).message}\n`);
    return 2;
  }
  let res: { status: number; body: unknown };
  try {
    res = await callJson(url);
  } catch (e) {
    if (e instanceof ApiError) res = { status: e.status, body: e.body };
    else if (e instanceof UnreachableError) {
      io.err(`sextant vip: ${e.message}\n`);
      return 1;
    } else throw e;
  }
  if (res.status !== 200 || !Array.isArray(res.body)) {
    io.err(`sextant vip: ${url} answered ${res.status} with ${bodyText(res.body)}\n`);
    return 1;
  }
  io.out(json ? JSON.stringify(res.body, null, 2) + '\n' : formatVips(res.body as ApiVip[]));
  return 0;
}
