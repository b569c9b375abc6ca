/**
 * `sextant network ...` -- the admin CLI over the master's API.
 *   create NAME --subnet CIDR [--prefix N] [--subnet6 CIDR --prefix6 N] [--mtu N]
 *   ls [--json]
 *   rm NAME [--force]
 *   isolate NAME allow|deny          (default towards other networks)
 *   allow FROM TO [--ports 80,8000-8100] [--protocol tcp|udp] [--delete]
 *   rules [--json]                   (defaults, rules, counters)
 * create and rm wait until every connected agent applied the control-plane version that carries the
 * change (net-wait.ts; "agents applied 2/3" as a bar on a terminal, plain lines otherwise), at most
 * --timeout seconds (default 30; then exit 1 naming the agents that lag), unless --no-wait. --json
 * prints `{ result, wait }` for create|rm|isolate|allow and the API's JSON for ls|rules.
 * Every command takes --master IP[:PORT] or http://IP:PORT (or SEXTANT_MASTER; default 127.0.0.1:5050),
 * or --url URL [--ca FILE] of an entry point (its /net/ routes); requests go through common/cli-client.ts.
 */
import { stdio, type CliIo } from '../common/endpoint.js';
import { ApiError, bodyText } from '../common/index.js';
import { startClusterCommand } from '../common/cli-command.js';
import type { ClusterClient } from '../common/cli-client.js';
import { countProgress, processTerm, type Term } from '../common/cli-output.js';
import type { ControlStatus } from '../control/index.js';
import { waitAgentsApplied, type WaitClock, type WaitOutcome } from './net-wait.js';

const USAGE = `usage: sextant network <create|ls|rm|isolate|allow|rules> [args] [--master IP:5050 | --url URL [--ca FILE]]
  create NAME --subnet CIDR [--prefix N] [--subnet6 CIDR --prefix6 N] [--mtu N] [--timeout S] [--no-wait] [--json]
  ls [--json]
  rm NAME [--force] [--timeout S] [--no-wait] [--json]
  isolate NAME allow|deny [--json]
  allow FROM TO [--ports 80,8000-8100] [--protocol tcp|udp] [--delete] [--json]
  rules [--json]
create and rm wait until every connected agent applied the change (at most --timeout seconds, default 30).
`;

const num = (s: string | undefined): number | string | undefined => (s === undefined ? undefined : /^\d+$/.test(s) ? Number(s) : s);

/** Tests inject the terminal (progress) and the clock of the wait. */
export interface NetworkCliDeps {
  term?: Term;
  clock?: WaitClock;
  pollMs?: number;
}

async function controlStatus(client: ClusterClient): Promise<ControlStatus | undefined> {
  try {
    return await client.request<ControlStatus>('mesos', '/v1/control/agents');
  } catch (e) {
    if (e instanceof ApiError && e.status === 404) return undefined;
    throw e;
  }
}

export async function main(argv: string[], io: CliIo = stdio, deps: NetworkCliDeps = {}): Promise<number> {
  const started = startClusterCommand('network', argv, USAGE, io, {
    subnet: { type: 'string' }, prefix: { type: 'string' }, subnet6: { type: 'string' }, prefix6: { type: 'string' },
    mtu: { type: 'string' }, force: { type: 'boolean' }, json: { type: 'boolean' }, ports: { type: 'string' }, protocol: { type: 'string' },
    delete: { type: 'boolean' }, timeout: { type: 'string' }, 'no-wait': { type: 'boolean' },
  });
  if (typeof started === 'number') return started;
  const { cmd, args, client } = started;
  const v = started.values as { [k in 'subnet' | 'prefix' | 'subnet6' | 'prefix6' | 'mtu' | 'ports' | 'protocol' | 'timeout']?: string } & { force?: boolean; json?: boolean; delete?: boolean; 'no-wait'?: boolean };
  if (v.timeout !== undefined && !/^\d+(\.\d+)?$/.test(v.timeout)) {
    io.err(`sextant network: --timeout "${v.timeout}" is not a number of seconds\n`);
    return 2;
  }
  const timeoutMs = Number(v.timeout ?? 30) * 1000;
  const term = deps.term ?? (io === stdio ? processTerm() : { ...io, tty: false });
  /** The control-plane version before a write (the wait's start), or null (no control plane, or --no-wait). */
  const before = async (): Promise<number | null> => {
    if (v['no-wait']) return null;
    try {
      return (await controlStatus(client))?.version ?? null;
    } catch (e) {
      // Not allowed to read the control plane: the write goes ahead, unwatched.
      if (e instanceof ApiError && (e.status === 401 || e.status === 403)) return null;
      throw e;
    }
  };
  /** Wait for the agents after a write; a failed wait throws naming the agents that lag (after --json printed the outcome). */
  const wait = async (since: number | null, result: unknown): Promise<WaitOutcome> => {
    let w: WaitOutcome;
    if (v['no-wait']) w = { waited: 'skipped' };
    else if (since === null) w = { waited: 'no-control' };
    else {
      const bar = v.json ? undefined : countProgress(term, 'agents applied');
      try {
        w = await waitAgentsApplied(() => controlStatus(client), { since, timeoutMs, clock: deps.clock, pollMs: deps.pollMs, onProgress: (d, n) => bar?.update(d, n) });
      } finally {
        bar?.stop();
      }
    }
    if (v.json) io.out(JSON.stringify({ result, wait: w }, null, 2) + '\n');
    if (w.waited === 'timeout' || w.waited === 'refused') {
      const why = w.waited === 'timeout' ? `not applied by every agent after ${timeoutMs / 1000} s` : 'refused by an agent';
      throw new CliError(`the change (control-plane version ${w.version ?? '?'}) was ${why}: ${w.lagging.join('; ')}`);
    }
    return w;
  };
  const applied = (w: WaitOutcome) => (w.waited === 'applied' ? ` (applied by ${w.agents} agent${w.agents === 1 ? '' : 's'}, version ${w.version})` : '');
  const call = async (method: string, path: string, body?: unknown) => {
    try {
      return await client.request('net', path, { method, body });
    } catch (e) {
      throw e instanceof ApiError ? new CliError(describe(e.status, e.body)) : e;
    }
  };
  try {
    switch (cmd) {
      case 'create': {
        if (!args[0]) throw new CliError('create needs a NAME');
        const body = Object.fromEntries(Object.entries({ name: args[0], subnet: v.subnet, prefix: num(v.prefix), subnet6: v.subnet6, prefix6: num(v.prefix6), mtu: num(v.mtu) }).filter(([, x]) => x !== undefined));
        const since = await before();
        const n = (await call('POST', '/v1/networks', body)) as { name: string; subnet: string; prefix: number };
        const w = await wait(since, n);
        if (!v.json) io.out(`created ${n.name} ${n.subnet} /${n.prefix} per agent${applied(w)}\n`);
        return 0;
      }
      case 'ls': {
        const r = (await call('GET', '/v1/networks')) as { networks: { name: string; subnet: string; prefix: number; subnet6?: string; agents: unknown[] }[] };
        if (v.json) io.out(JSON.stringify(r, null, 2) + '\n');
        else io.out(table(['NAME', 'SUBNET', 'PREFIX', 'SUBNET6', 'AGENTS'], r.networks.map((n) => [n.name, n.subnet, `/${n.prefix}`, n.subnet6 ?? '-', String(n.agents.length)])));
        return 0;
      }
      case 'rm': {
        if (!args[0]) throw new CliError('rm needs a NAME');
        const since = await before();
        const r = await call('DELETE', `/v1/networks/${encodeURIComponent(args[0])}${v.force ? '?force=true' : ''}`);
        const w = await wait(since, r ?? null);
        if (!v.json) io.out(`removed ${args[0]}${applied(w)}\n`);
        return 0;
      }
      case 'isolate': {
        if (!args[0] || (args[1] !== 'allow' && args[1] !== 'deny')) throw new CliError('isolate needs NAME and allow|deny');
        const r = await call('POST', '/v1/networks/isolation', { network: args[0], default: args[1] });
        if (v.json) io.out(JSON.stringify({ result: r ?? null }, null, 2) + '\n');
        else io.out(`${args[0]}: default ${args[1]} towards other networks\n`);
        return 0;
      }
      case 'allow': {
        if (!args[0] || !args[1]) throw new CliError('allow needs FROM and TO');
        const body: Record<string, unknown> = { from: args[0], to: args[1] };
        if (v.ports) body.ports = v.ports.split(',').map((p) => num(p.trim()));
        if (v.protocol) body.protocol = v.protocol;
        const r = (await call(v.delete ? 'DELETE' : 'POST', '/v1/networks/isolation', body)) as { key?: string; removed?: string };
        if (v.json) io.out(JSON.stringify({ result: r ?? null }, null, 2) + '\n');
        else io.out(v.delete ? `removed rule ${r.removed}\n` : `added rule ${r.key}\n`);
        return 0;
      }
      case 'rules': {
        const r = (await call('GET', '/v1/networks/isolation')) as { policies: { network: string; default: string; packets: number }[]; rules: { key: string; packets: number }[] };
        if (v.json) io.out(JSON.stringify(r, null, 2) + '\n');
        else io.out(table(['RULE', 'PACKETS'], [...r.policies.map((p) => [`${p.network}: default ${p.default}`, String(p.packets)]), ...r.rules.map((x) => [`allow ${x.key}`, String(x.packets)])]));
        return 0;
      }
      default:
        io.err(`unknown network command '${cmd}'\n${USAGE}`);
        return 2;
    }
  } catch (e) {
    io.err(`sextant network ${cmd}: ${e instanceof CliError ? e.message : (e as Error).message}\n`);
    return 1;
  }
}

class CliError extends Error {
  override name = 'CliError';
}

function describe(status: number, body: unknown): string {
  const b = body as { message?: string; details?: { path: string; errors: string[] }[] } | undefined;
  if (b?.details?.length) return b.details.map((d) => `${d.path}: ${d.errors.join(', ')}`).join('; ');
  return `${status} ${b?.message ?? bodyText(body)}`;
}

function table(head: string[], rows: string[][]): string {
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  return [head, ...rows].map((r) => r.map((c, i) => c.padEnd(w[i]!)).join('  ').trimEnd()).join('\n') + '\n';
}
