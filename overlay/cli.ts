/**
 * `sextant network ...` -- the admin CLI over the master's API.
 *   create NAME --subnet CIDR [--prefix N] [--subnet6 CIDR --prefix6 N] [--mtu N]
 *   ls [--json]
 *   rm NAME [--force]
 *   isolate NAME allow|deny          (default towards other networks)
 *   allow FROM TO [--ports 80,8000-8100] [--protocol tcp|udp] [--delete]
 *   rules [--json]                   (defaults, rules, counters)
 * create, rm, isolate and allow wait until every connected agent applied the control-plane version
 * the master named as carrying the change (its X-Sextant-Control-Version header; net-wait.ts;
 * "agents applied 2/3" as a bar on a terminal, plain lines otherwise), at most --timeout seconds
 * (default 30; then exit 1 naming the agents that lag), unless --no-wait. --json prints
 * `{ result, wait }` for create|rm|isolate|allow and the API's JSON for ls|rules.
 * Every command takes --master IP[:PORT] or http://IP:PORT (or SEXTANT_MASTER; default 127.0.0.1:5050),
 * or --url URL [--ca FILE] of an entry point (its /net/ routes); requests go through common/cli-client.ts.
 */
import { stdio, type CliIo } from '../common/endpoint.js';
import { ApiError, bodyText } from '../common/index.js';
import { startClusterCommand } from '../common/cli-command.js';
import type { ClusterClient } from '../common/cli-client.js';
import { countProgress, processTerm, type Term } from '../common/cli-output.js';
import type { ControlStatus } from '../control/index.js';
import { carriedVersion, waitAgentsApplied, type WaitClock, type WaitOutcome } from './net-wait.js';

const USAGE = `usage: sextant network <create|ls|rm|isolate|allow|rules> [args] [--master IP:5050 | --url URL [--ca FILE]]
  create NAME --subnet CIDR [--prefix N] [--subnet6 CIDR --prefix6 N] [--mtu N] [--timeout S] [--no-wait] [--json]
  ls [--json]
  rm NAME [--force] [--timeout S] [--no-wait] [--json]
  isolate NAME allow|deny [--timeout S] [--no-wait] [--json]
  allow FROM TO [--ports 80,8000-8100] [--protocol tcp|udp] [--delete] [--timeout S] [--no-wait] [--json]
  rules [--json]
create, rm, isolate and allow wait until every connected agent applied the change (at most --timeout seconds, default 30).
`;

const num = (s: string | undefined): number | string | undefined => (s === undefined ? undefined : /^\d+$/.test(s) ? Number(s) : s);

/** Tests inject the terminal (progress) and the clock of the wait. */
export interface NetworkCliDeps {
  term?: Term;
  clock?: WaitClock;
  pollMs?: number;
}

/** The control plane's status, or undefined when the master runs none (404) or we may not read it (the write goes ahead, unwatched). */
async function controlStatus(client: ClusterClient): Promise<ControlStatus | undefined> {
  try {
    return await client.request<ControlStatus>('mesos', '/v1/control/agents');
  } catch (e) {
    if (e instanceof ApiError && (e.status === 404 || e.status === 401 || e.status === 403)) return undefined;
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
  /** The outcome of the wait for `version` (undefined: the answer named none). */
  const waitFor = async (version: number | undefined): Promise<WaitOutcome> => {
    if (v['no-wait']) return { waited: 'skipped' };
    if (version === undefined) return (await controlStatus(client)) ? { waited: 'unknown' } : { waited: 'no-control' };
    const bar = v.json ? undefined : countProgress(term, 'agents applied');
    try {
      return await waitAgentsApplied(() => controlStatus(client), { version, timeoutMs, clock: deps.clock, pollMs: deps.pollMs, onProgress: (d, n) => bar?.update(d, n) });
    } finally {
      bar?.stop();
    }
  };
  /** Wait for the agents after a write; a failed wait throws naming the agents that lag (after --json printed the outcome). */
  const wait = async (written: { result: unknown; version: number | undefined }): Promise<WaitOutcome> => {
    const w = await waitFor(written.version);
    if (v.json) io.out(JSON.stringify({ result: written.result, wait: w }, null, 2) + '\n');
    if (w.waited === 'unknown') throw new CliError('the master did not say which control-plane version carries the change (no X-Sextant-Control-Version): not waited for');
    if (w.waited === 'timeout' || w.waited === 'refused') {
      const why = w.waited === 'timeout' ? `not applied by every agent after ${timeoutMs / 1000} s` : 'refused by an agent';
      throw new CliError(`the change (control-plane version ${w.version}) was ${why}: ${w.lagging.join('; ')}`);
    }
    return w;
  };
  const applied = (w: WaitOutcome) => (w.waited === 'applied' ? ` (applied by ${w.agents} agent${w.agents === 1 ? '' : 's'}, version ${w.version})` : '');
  /** A call to the network API: its body (null when empty), and the control-plane version a write's answer names. */
  const call = async (method: string, path: string, body?: unknown) => {
    try {
      const r = await client.exchange('net', path, { method, body });
      return { result: r.body ?? null, version: carriedVersion(r.headers) };
    } catch (e) {
      throw e instanceof ApiError ? new CliError(describe(e.status, e.body)) : e;
    }
  };
  try {
    switch (cmd) {
      case 'create': {
        if (!args[0]) throw new CliError('create needs a NAME');
        const body = Object.fromEntries(Object.entries({ name: args[0], subnet: v.subnet, prefix: num(v.prefix), subnet6: v.subnet6, prefix6: num(v.prefix6), mtu: num(v.mtu) }).filter(([, x]) => x !== undefined));
        const written = await call('POST', '/v1/networks', body);
        const n = written.result as { name: string; subnet: string; prefix: number };
        const w = await wait(written);
        if (!v.json) io.out(`created ${n.name} ${n.subnet} /${n.prefix} per agent${applied(w)}\n`);
        return 0;
      }
      case 'ls': {
        const r = (await call('GET', '/v1/networks')).result as { networks: { name: string; subnet: string; prefix: number; subnet6?: string; agents: unknown[] }[] };
        if (v.json) io.out(JSON.stringify(r, null, 2) + '\n');
        else io.out(table(['NAME', 'SUBNET', 'PREFIX', 'SUBNET6', 'AGENTS'], r.networks.map((n) => [n.name, n.subnet, `/${n.prefix}`, n.subnet6 ?? '-', String(n.agents.length)])));
        return 0;
      }
      case 'rm': {
        if (!args[0]) throw new CliError('rm needs a NAME');
        const w = await wait(await call('DELETE', `/v1/networks/${encodeURIComponent(args[0])}${v.force ? '?force=true' : ''}`));
        if (!v.json) io.out(`removed ${args[0]}${applied(w)}\n`);
        return 0;
      }
      case 'isolate': {
        if (!args[0] || (args[1] !== 'allow' && args[1] !== 'deny')) throw new CliError('isolate needs NAME and allow|deny');
        const w = await wait(await call('POST', '/v1/networks/isolation', { network: args[0], default: args[1] }));
        if (!v.json) io.out(`${args[0]}: default ${args[1]} towards other networks${applied(w)}\n`);
        return 0;
      }
      case 'allow': {
        if (!args[0] || !args[1]) throw new CliError('allow needs FROM and TO');
        const body: Record<string, unknown> = { from: args[0], to: args[1] };
        if (v.ports) body.ports = v.ports.split(',').map((p) => num(p.trim()));
        if (v.protocol) body.protocol = v.protocol;
        const written = await call(v.delete ? 'DELETE' : 'POST', '/v1/networks/isolation', body);
        const w = await wait(written);
        const r = written.result as { key?: string; removed?: string };
        if (!v.json) io.out(`${v.delete ? `removed rule ${r.removed}` : `added rule ${r.key}`}${applied(w)}\n`);
        return 0;
      }
      case 'rules': {
        const r = (await call('GET', '/v1/networks/isolation')).result as { policies: { network: string; default: string; packets: number }[]; rules: { key: string; packets: number }[] };
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
