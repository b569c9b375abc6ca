/**
 * The CLI's reading of `/system/health/v1/report` (3DT MonitoringResponse) into flat node rows,
 * and the table `sextant diag` prints.
 */
import Table from 'cli-table3';

export interface ReportNode {
  ip: string;
  hostname: string;
  role: string;
  mesosId: string;
  health: 0 | 1;
  /** Why the master could not ask the node ('' when it answered). */
  error: string;
  units: { id: string; name: string; health: 0 | 1; output: string }[];
}

interface RawNode {
  IP?: string;
  Host?: string;
  Role?: string;
  MesosID?: string;
  Health?: number;
  Output?: Record<string, string>;
  Units?: { UnitName?: string; PrettyName?: string; Health?: number }[];
}

/** Nodes of a report, masters first, then by IP; throws when it is not a report. */
export function nodesOfReport(body: unknown): ReportNode[] {
  const nodes = (body as { Nodes?: Record<string, RawNode> } | null)?.Nodes;
  if (!nodes || typeof nodes !== 'object') throw new Error(`not a health report (no Nodes): ${JSON.stringify(body)?.slice(0, 200)}`);
  return Object.values(nodes)
    .map((n): ReportNode => {
      const out = n.Output ?? {};
      return {
        ip: String(n.IP ?? ''),
        hostname: String(n.Host ?? ''),
        role: String(n.Role ?? ''),
        mesosId: String(n.MesosID ?? ''),
        health: n.Health === 1 ? 1 : 0,
        error: out.node ?? '',
        units: (n.Units ?? []).map((u) => ({ id: String(u.UnitName), name: String(u.PrettyName ?? u.UnitName), health: u.Health === 1 ? 1 : 0, output: out[String(u.UnitName)] ?? '' })),
      };
    })
    .sort((a, b) => (a.role === b.role ? a.ip.localeCompare(b.ip, undefined, { numeric: true }) : a.role === 'master' ? -1 : 1));
}

const BARE = {
  chars: { top: '', 'top-mid': '', 'top-left': '', 'top-right': '', bottom: '', 'bottom-mid': '', 'bottom-left': '', 'bottom-right': '', left: '', 'left-mid': '', mid: '', 'mid-mid': '', right: '', 'right-mid': '', middle: '  ' },
  style: { head: [] as string[], border: [] as string[], 'padding-left': 0, 'padding-right': 0 },
};

function table(head: string[], rows: string[][]): string {
  const t = new Table({ head, ...BARE });
  t.push(...rows);
  return `${t.toString().split('\n').map((l) => l.trimEnd()).join('\n')}\n`;
}

export const healthWord = (h: 0 | 1) => (h === 1 ? 'healthy' : 'UNHEALTHY');

export function unitTable(nodes: ReportNode[]): string {
  const rows: string[][] = [];
  for (const n of nodes) {
    if (n.error) rows.push([n.ip, n.role, '(node)', healthWord(0), n.error]);
    for (const u of n.units) rows.push([n.ip, n.role, u.id, healthWord(u.health), u.output]);
  }
  return table(['NODE', 'ROLE', 'UNIT', 'HEALTH', 'OUTPUT'], rows);
}
