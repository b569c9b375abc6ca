/**
 * `sextant network ...` -- the admin CLI over the master's API.
 *   create NAME --subnet CIDR [--prefix N] [--subnet6 CIDR --prefix6 N] [--mtu N]
 *   ls [--json]
 *   rm NAME [--force]
 *   isolate NAME allow|deny          (default towards other networks)
 *   allow FROM TO [--ports 80,8000-8100] [--protocol tcp|udp] [--delete]
 *   rules [--json]                   (defaults, rules, counters)
 * Every command takes --master IP[:PORT] or http://IP:PORT (or SEXTANT_MASTER; default 127.0.0.1:5050),
 * or --url URL [--ca FILE] of an entry point (its /net/ routes); requests go through common/cli-client.ts.
 */
import { stdio, type CliIo } from '../common/endpoint.js';
import { ApiError, bodyText } from '../common/index.js';
import { startClusterCommand } from '../common/cli-command.js';

const USAGE = `usage: sextant network <create|ls|rm|isolate|allow|rules> [args] [--master IP:5050 | --url URL [--ca FILE]]
  create NAME --subnet CIDR [--prefix N] [--subnet6 CIDR --prefix6 N] [--mtu N]
  ls [--json]
  rm NAME [--force]
  isolate NAME allow|deny
  allow FROM TO [--ports 80,8000-8100] [--protocol tcp|udp] [--delete]
  rules [--json]
`;

const num = (s: string | undefined): number | string | undefined => (s === undefined ? undefined : /^\d+$/.test(s) ? Number(s) : s);

export async function main(argv: string[], io: CliIo = stdio): Promise<number> {
  const started = startClusterCommand('network', argv, USAGE, io, {
    subnet: { type: 'string' }, prefix: { type: 'string' }, subnet6: { type: 'string' }, prefix6: { type: 'string' },
    mtu: { type: 'string' }, force: { type: 'boolean' }, json: { type: 'boolean' }, ports: { type: 'string' }, protocol: { type: 'string' },
    delete: { type: 'boolean' },
  });
  if (typeof started === 'number') return started;
  const { cmd, args, client } = started;
  const v = started.values as { [k in 'subnet' | 'prefix' | 'subnet6' | 'prefix6' | 'mtu' | 'ports' | 'protocol']?: string } & { force?: boolean; json?: boolean; delete?: boolean };
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
        const n = (await call('POST', '/v1/networks', body)) as { name: string; subnet: string; prefix: number };
        io.out(`created ${n.name} ${n.subnet} /${n.prefix} per agent\n`);
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
        await call('DELETE', `/v1/networks/${encodeURIComponent(args[0])}${v.force ? '?force=true' : ''}`);
        io.out(`removed ${args[0]}\n`);
        return 0;
      }
      case 'isolate': {
        if (!args[0] || (args[1] !== 'allow' && args[1] !== 'deny')) throw new CliError('isolate needs NAME and allow|deny');
        await call('POST', '/v1/networks/isolation', { network: args[0], default: args[1] });
        io.out(`${args[0]}: default ${args[1]} towards other networks\n`);
        return 0;
      }
      case 'allow': {
        if (!args[0] || !args[1]) throw new CliError('allow needs FROM and TO');
        const body: Record<string, unknown> = { from: args[0], to: args[1] };
        if (v.ports) body.ports = v.ports.split(',').map((p) => num(p.trim()));
        if (v.protocol) body.protocol = v.protocol;
        const r = (await call(v.delete ? 'DELETE' : 'POST', '/v1/networks/isolation', body)) as { key?: string; removed?: string };
        io.out(v.delete ? `removed rule ${r.removed}\n` : `added rule ${r.key}\n`);
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
