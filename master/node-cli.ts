/**
 * `sextant node ...` -- agents as the master sees them (DC/OS `dcos node`):
 *   ls [--json]                 every agent: id, address, state (active | pending | unreachable | removed)
 *   rm AGENT_ID [--force]       remove an agent: deactivated now (its tasks TASK_GONE, Marathon replaces
 *                               them), record and overlay share released after the master's grace period
 *                               (--agent-release-grace-ms); an agent still heartbeating needs --force
 * Every command takes --master IP[:PORT] or http://IP:PORT (or SEXTANT_MASTER; default 127.0.0.1:5050), or
 * --url URL [--ca FILE] of an entry point; requests go through common/cli-client.ts.
 */
import { ApiError, bodyText, stdio, type CliIo } from '../common/index.js';
import { startClusterCommand } from '../common/cli-command.js';
import { API } from '../contracts/index.js';

const USAGE = `usage: sextant node <ls|rm> [args] [--master IP:5050 | --url URL [--ca FILE]]
  ls [--json]              agents: id, address, state, health (units healthy/total, which are not)
  rm AGENT_ID [--force]    remove an agent; its overlay subnets and VTEP address are released after the
                           master's grace period (--agent-release-grace-ms). --force: even if it still heartbeats
`;

interface Slave {
  id: string;
  pid: string;
  hostname: string;
  active: boolean;
  pending?: boolean;
  removed?: boolean;
  release_at?: number;
}

export async function main(argv: string[], io: CliIo = stdio): Promise<number> {
  const started = startClusterCommand('node', argv, USAGE, io, { json: { type: 'boolean' }, force: { type: 'boolean' } });
  if (typeof started === 'number') return started;
  const { values: v, cmd, args, client } = started;
  const call = async (method: string, path: string) => {
    try {
      return await client.request('mesos', path, { method });
    } catch (e) {
      if (!(e instanceof ApiError)) throw e;
      throw new CliError(`${e.status} ${(e.body as { message?: string } | undefined)?.message ?? bodyText(e.body)}`);
    }
  };
  try {
    switch (cmd) {
      case 'ls': {
        const r = (await call('GET', '/master/slaves')) as { slaves: Slave[] };
        // Health is a summary (diag/README.md): without it (no diag on that master, or no
        // system-health permission) the list still prints. It is a `root` path: through an entry point
        // `/system/health/v1/report` (route system_health, ops:system-health), not under `/mesos/`.
        const health = healthByIp(await client.request('root', '/system/health/v1/report', { timeoutMs: 30_000 }).catch(() => undefined));
        const of = (s: Slave) => health?.get(ipOf(s.pid));
        if (v.json) io.out(JSON.stringify({ slaves: r.slaves.map((s) => ({ ...s, health: of(s) ?? null })) }, null, 2) + '\n');
        else
          io.out(
            table(
              ['ID', 'ADDRESS', 'HOSTNAME', 'STATE', 'RELEASED AT', 'HEALTH', 'UNITS', 'PROBLEMS'],
              r.slaves.map((s) => {
                const h = of(s);
                const cols = h ? [h.health ? 'healthy' : 'UNHEALTHY', `${h.units_healthy}/${h.units_total}`, h.output || h.unhealthy.join(', ') || '-'] : ['-', '-', '-'];
                return [s.id, s.pid.replace(/^slave\(1\)@/, ''), s.hostname, stateOf(s), s.release_at ? new Date(s.release_at * 1000).toISOString() : '-', ...cols];
              }),
            ),
          );
        return 0;
      }
      case 'rm': {
        if (!args[0] || args.length > 1) throw new CliError('rm needs one AGENT_ID');
        const r = (await call('DELETE', `${API.agent(args[0])}${v.force ? '?force=true' : ''}`)) as { agent_id: string; release_at: number };
        io.out(`removed ${r.agent_id}; its overlay subnets and VTEP address are released at ${new Date(r.release_at * 1000).toISOString()}\n`);
        return 0;
      }
      default:
        io.err(`unknown node command '${cmd}'\n${USAGE}`);
        return 2;
    }
  } catch (e) {
    io.err(`sextant node ${cmd}: ${(e as Error).message}\n`);
    return 1;
  }
}

interface NodeHealth {
  health: 0 | 1;
  units_healthy: number;
  units_total: number;
  unhealthy: string[];
  /** Why the master could not ask the node ('' when it answered). */
  output: string;
}

const ipOf = (pid: string) => pid.replace(/^[^@]*@/, '').replace(/:\d+$/, '').replace(/^\[|\]$/g, '');

/** The masters' health report (3DT MonitoringResponse) summed up per node IP; undefined when absent. */
export function healthByIp(report: unknown): Map<string, NodeHealth> | undefined {
  const nodes = (report as { Nodes?: Record<string, { Health?: number; Output?: Record<string, string>; Units?: { UnitName?: string; Health?: number }[] }> } | undefined)?.Nodes;
  if (!nodes || typeof nodes !== 'object') return undefined;
  const out = new Map<string, NodeHealth>();
  for (const [ip, n] of Object.entries(nodes)) {
    const units = n.Units ?? [];
    out.set(ip, {
      health: n.Health === 1 ? 1 : 0,
      units_healthy: units.filter((u) => u.Health === 1).length,
      units_total: units.length,
      unhealthy: units.filter((u) => u.Health !== 1).map((u) => String(u.UnitName)),
      output: n.Output?.node ?? '',
    });
  }
  return out;
}

function stateOf(s: Slave): string {
  if (s.active) return 'active';
  if (s.pending) return 'pending';
  return s.removed ? 'removed' : 'unreachable';
}

class CliError extends Error {
  override name = 'CliError';
}

function table(head: string[], rows: string[][]): string {
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  return [head, ...rows].map((r) => r.map((c, i) => c.padEnd(w[i]!)).join('  ').trimEnd()).join('\n') + '\n';
}
