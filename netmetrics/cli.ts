/**
 * `sextant vip ...` -- VIPs as the masters' network metrics aggregator sees them (DC/OS `dcos
 * networking`-style views of `/net/v1/vips`):
 *   ls [--json]              every VIP: backends (unhealthy), connections, failures, success rate, last minute and hour
 *   ls --agent ADDR [--json] what one agent has programmed (its `/v1/vips`), as before
 *   show NAME|VIP [--json]   one VIP's backends: weight, state, figures, p50/p99 connect latency, failing nodes
 * Where the cluster is: --master / --url / --ca (common/cli-client.ts, the `net` API).
 */
import { failure, startClusterCommand } from '../common/cli-command.js';
import { processTerm, renderFields, renderTable, type Term } from '../common/cli-output.js';
import { agentVipsMain } from '../l4lb/index.js';

const USAGE = `usage: sextant vip ls [--json] [--agent ADDR] | show NAME|VIP [--json]   [--master IP:5050 | --url URL [--ca FILE]]
  ls                 every VIP, from the masters: backends (unhealthy), connections, failures and success rate
                     over the last minute and the last hour, nodes that saw traffic
  ls --agent ADDR    the VIPs one agent has programmed (ADDR: IP, IP:PORT or http://IP:5051/v1/vips)
  show NAME|VIP      one VIP (IP:PORT/PROTO, IP:PORT, its name or NAME:PORT): its backends with weight, state,
                     success rate, p50/p99 connect latency (last minute, last hour) and the nodes that see failures
  --json             the API's JSON
`;

interface Fig {
  connections: number;
  failures: number;
  bytes: number;
  success_rate: number | null;
  latency?: { p50_ms: number | null; p99_ms: number | null };
}
interface VipRow {
  vip: string;
  name: string | null;
  backends: number;
  unhealthy_backends: number;
  last_minute: Fig;
  last_hour: Fig;
  nodes: { node: string }[];
}
interface BackendRow {
  backend: string;
  weight: number | null;
  drained: boolean;
  unhealthy: boolean;
  reason?: string;
  last_minute: Fig;
  last_hour: Fig;
  failing_nodes: string[];
}
interface VipDetail {
  vip: string;
  name: string | null;
  last_minute: Fig;
  last_hour: Fig;
  backends: BackendRow[];
}

const pct = (r: number | null) => (r === null ? '-' : `${(r * 100).toFixed(1)}%`);
const ms = (v: number | null | undefined) => (v === null || v === undefined ? '-' : `${v}ms`);
const bytes = (n: number) => (n < 1024 ? `${n}B` : n < 1 << 20 ? `${(n / 1024).toFixed(1)}KiB` : n < 1 << 30 ? `${(n / (1 << 20)).toFixed(1)}MiB` : `${(n / (1 << 30)).toFixed(1)}GiB`);

export function formatVipList(term: Pick<Term, 'tty'>, vips: VipRow[]): string {
  if (!vips.length) return 'no VIPs\n';
  return renderTable(
    term,
    ['VIP', 'NAME', 'BACKENDS', 'CONN 1m', 'FAIL 1m', 'OK 1m', 'CONN 1h', 'FAIL 1h', 'OK 1h', 'BYTES 1h', 'NODES'],
    vips.map((v) => [
      v.vip,
      v.name ?? '-',
      v.unhealthy_backends ? `${v.backends} (${v.unhealthy_backends} unhealthy)` : String(v.backends),
      String(v.last_minute.connections),
      String(v.last_minute.failures),
      pct(v.last_minute.success_rate),
      String(v.last_hour.connections),
      String(v.last_hour.failures),
      pct(v.last_hour.success_rate),
      bytes(v.last_hour.bytes),
      String(v.nodes.length),
    ]),
  );
}

export function formatVipDetail(term: Pick<Term, 'tty'>, v: VipDetail): string {
  const head = renderFields([
    ['VIP', v.vip],
    ['name', v.name ?? '-'],
    ['last minute', `${v.last_minute.connections} connections, ${v.last_minute.failures} failed, success ${pct(v.last_minute.success_rate)}`],
    ['last hour', `${v.last_hour.connections} connections, ${v.last_hour.failures} failed, success ${pct(v.last_hour.success_rate)}, ${bytes(v.last_hour.bytes)}`],
  ]);
  const state = (b: BackendRow) => (b.drained ? 'DRAINED' : b.unhealthy ? 'UNHEALTHY' : b.weight === 0 ? 'draining' : 'ok');
  const table = renderTable(
    term,
    ['BACKEND', 'WEIGHT', 'STATE', 'CONN 1m', 'FAIL 1m', 'OK 1m', 'P50 1m', 'P99 1m', 'OK 1h', 'P50 1h', 'P99 1h', 'FAILING ON'],
    v.backends.map((b) => [
      b.backend,
      b.weight === null ? '-' : String(b.weight),
      state(b),
      String(b.last_minute.connections),
      String(b.last_minute.failures),
      pct(b.last_minute.success_rate),
      ms(b.last_minute.latency?.p50_ms),
      ms(b.last_minute.latency?.p99_ms),
      pct(b.last_hour.success_rate),
      ms(b.last_hour.latency?.p50_ms),
      ms(b.last_hour.latency?.p99_ms),
      b.failing_nodes.join(',') || '-',
    ]),
  );
  const reasons = v.backends.filter((b) => b.unhealthy).map((b) => `${b.backend}: ${b.reason ?? 'unhealthy'}${b.drained ? ' (drained)' : ''}\n`);
  return `${head}\n${table}${reasons.length ? `\n${reasons.join('')}` : ''}`;
}

/** The path of one VIP under `/v1/vips/`: each segment encoded, the `/PROTO` kept as a segment. */
export function vipPath(vip: string): string {
  return `/v1/vips/${vip.split('/').filter(Boolean).map(encodeURIComponent).join('/')}`;
}

export async function main(argv: string[], term: Term = processTerm()): Promise<number> {
  const started = startClusterCommand('vip', argv, USAGE, term, { json: { type: 'boolean' }, agent: { type: 'string' } });
  if (typeof started === 'number') return started;
  const { values: v, cmd, args, client } = started;
  try {
    if (cmd === 'ls' && args.length === 0) {
      if (typeof v.agent === 'string') return await agentVipsMain(['ls', '--agent', v.agent, ...(v.json ? ['--json'] : [])], term);
      const body = await client.request<{ vips: VipRow[] }>('net', '/v1/vips');
      term.out(v.json ? `${JSON.stringify(body, null, 2)}\n` : formatVipList(term, body.vips));
      return 0;
    }
    if (cmd === 'show' && args.length === 1 && v.agent === undefined) {
      const body = await client.request<VipDetail>('net', vipPath(args[0]!));
      term.out(v.json ? `${JSON.stringify(body, null, 2)}\n` : formatVipDetail(term, body));
      return 0;
    }
  } catch (e) {
    const f = failure('sextant vip', e);
    term.err(`${f.message}\n`);
    return f.code;
  }
  term.err(`sextant vip: ${cmd === 'show' ? 'show takes one NAME or VIP (and no --agent)' : cmd === 'ls' ? 'ls takes no arguments' : `unknown command '${cmd}'`}\n${USAGE}`);
  return 2;
}
