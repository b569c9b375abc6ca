/**
 * The API's answers, built from the aggregator's state (pure reads at `now`):
 *   GET /net/v1/vips                every VIP: totals over the last minute and hour, per-node spread
 *   GET /net/v1/vips/{vip}          one VIP's backends: figures, p50/p99 connect latency, failing nodes, verdict, weight
 *   GET /net/v1/backends/{ip:port}  every VIP that uses the backend, with its per-node figures
 * A VIP is named `IP:PORT/PROTO`, `IP:PORT` (when one protocol has it), its DNS name, or its
 * label (`web`, `/web`); a name several VIPs share needs `NAME:PORT`.
 */
import { ConflictError, NotFoundError } from '../common/errors.js';
import type { NetMetricsAggregator } from './aggregator.js';
import { latencyView } from './histogram.js';
import { COUNTER_WIDTH, figures, type BackendEntry, type Figures, type VipEntry } from './store.js';

/** Several VIPs answer to the name asked (HTTP 409 with the list). */
export class AmbiguousVipError extends ConflictError {}

type Window = 'minute' | 'hour';
const WINDOWS: Window[] = ['minute', 'hour'];

interface VipRef {
  vip: string;
  name?: string;
  entry?: VipEntry;
  served?: { dns_name?: string; backends: Map<string, { weight: number; drained: boolean; draining_upstream: boolean }> };
}

/** Every VIP the aggregator knows: from the metrics, and from what the control plane serves (no traffic yet). */
function allVips(a: NetMetricsAggregator): VipRef[] {
  const out = new Map<string, VipRef>();
  for (const [vip, entry] of a.store.vips) out.set(vip, { vip, entry, ...(entry.name ? { name: entry.name } : {}) });
  for (const [vip, served] of a.drain.served) {
    const r = out.get(vip) ?? { vip };
    r.served = served;
    r.name ??= served.dns_name;
    out.set(vip, r);
  }
  return [...out.values()].sort((x, y) => x.vip.localeCompare(y.vip, undefined, { numeric: true }));
}

function sumRows(rows: Float64Array[]): Float64Array {
  const out = new Float64Array(COUNTER_WIDTH);
  for (const r of rows) for (let k = 0; k < COUNTER_WIDTH; k++) out[k]! += r[k]!;
  return out;
}

function backendRows(b: BackendEntry, w: Window, now: number): Map<string, Float64Array> {
  return new Map([...b.nodes].map(([node, s]) => [node, s[w].sum(now)]));
}

/** Per node, per window, over some backends. */
function nodeSpread(backends: BackendEntry[], now: number): { node: string; last_minute: Figures; last_hour: Figures }[] {
  const nodes = new Set(backends.flatMap((b) => [...b.nodes.keys()]));
  return [...nodes].sort().map((node) => {
    const [m, h] = WINDOWS.map((w) => figures(sumRows(backends.flatMap((b) => (b.nodes.get(node) ? [b.nodes.get(node)![w].sum(now)] : [])))));
    return { node, last_minute: m!, last_hour: h! };
  });
}

function totals(backends: BackendEntry[], w: Window, now: number): Figures {
  return figures(sumRows(backends.flatMap((b) => [...backendRows(b, w, now).values()])));
}

function unhealthyCount(a: NetMetricsAggregator, r: VipRef): number {
  const names = new Set([...(r.entry?.backends.keys() ?? []), ...(r.served?.backends.keys() ?? [])]);
  return [...names].filter((b) => a.judge.verdict(`${r.vip}|${b}`).unhealthy).length;
}

export function vipsView(a: NetMetricsAggregator, now: number): unknown {
  return {
    vips: allVips(a).map((r) => {
      const bs = [...(r.entry?.backends.values() ?? [])];
      return {
        vip: r.vip,
        name: r.name ?? null,
        backends: new Set([...(r.entry?.backends.keys() ?? []), ...(r.served?.backends.keys() ?? [])]).size,
        unhealthy_backends: unhealthyCount(a, r),
        last_minute: totals(bs, 'minute', now),
        last_hour: totals(bs, 'hour', now),
        nodes: nodeSpread(bs, now),
      };
    }),
    ...status(a),
  };
}

function status(a: NetMetricsAggregator): Record<string, unknown> {
  return {
    updated: a.lastPoll ?? null,
    interval_ms: a.intervalMs,
    threshold: { failure_rate: a.judge.threshold, min_connections: a.judge.minConnections, recover_below: a.judge.recoverBelow, drain: a.drain.enabled },
    agents: [...a.store.nodes.values()].sort((x, y) => x.node.localeCompare(y.node, undefined, { numeric: true })),
  };
}

function backendView(a: NetMetricsAggregator, r: VipRef, name: string, now: number): Record<string, unknown> {
  const b = r.entry?.backends.get(name);
  const served = r.served?.backends.get(name);
  const verdict = a.judge.verdict(`${r.vip}|${name}`);
  const win = (w: Window) => ({ ...totals(b ? [b] : [], w, now), latency: latencyView(b ? b.latency[w].sum(now) : new Float64Array(0)) });
  const minuteRows = b ? backendRows(b, 'minute', now) : new Map<string, Float64Array>();
  return {
    backend: name,
    weight: served?.weight ?? null,
    drained: served?.drained ?? false,
    unhealthy: verdict.unhealthy,
    ...(verdict.unhealthy ? { reason: verdict.reason, unhealthy_since: verdict.since } : {}),
    last_minute: win('minute'),
    last_hour: win('hour'),
    failing_nodes: [...minuteRows].filter(([, row]) => figures(row).failures > 0).map(([n]) => n).sort(),
    nodes: nodeSpread(b ? [b] : [], now),
  };
}

export function vipView(a: NetMetricsAggregator, asked: string, now: number): unknown {
  const r = findVip(a, asked);
  const names = [...new Set([...(r.entry?.backends.keys() ?? []), ...(r.served?.backends.keys() ?? [])])].sort((x, y) => x.localeCompare(y, undefined, { numeric: true }));
  const bs = [...(r.entry?.backends.values() ?? [])];
  return {
    vip: r.vip,
    name: r.name ?? null,
    last_minute: totals(bs, 'minute', now),
    last_hour: totals(bs, 'hour', now),
    backends: names.map((n) => backendView(a, r, n, now)),
    updated: a.lastPoll ?? null,
  };
}

export function backendUsesView(a: NetMetricsAggregator, asked: string, now: number): unknown {
  const name = normalizeBackend(asked);
  const uses = allVips(a).filter((r) => r.entry?.backends.has(name) || r.served?.backends.has(name));
  if (!uses.length) throw new NotFoundError(`no VIP has backend '${asked}' (in the control plane or in the last hour's metrics)`);
  return { backend: name, vips: uses.map((r) => ({ vip: r.vip, name: r.name ?? null, ...backendView(a, r, name, now), backend: undefined })), updated: a.lastPoll ?? null };
}

function normalizeBackend(s: string): string {
  const m = /^\[?([0-9a-fA-F:.]+?)\]?:(\d{1,5})$/.exec(s.trim());
  if (!m) throw new NotFoundError(`'${s}' is not a backend (IP:PORT, [IPv6]:PORT)`);
  return m[1]!.includes(':') ? `[${m[1]!.toLowerCase()}]:${Number(m[2])}` : `${m[1]}:${Number(m[2])}`;
}

/** The VIP a path names; NotFoundError or AmbiguousVipError naming what was asked. */
export function findVip(a: NetMetricsAggregator, asked: string): VipRef {
  const all = allVips(a);
  const q = asked.trim().toLowerCase().replace(/\.$/, '');
  const exact = all.find((r) => r.vip.toLowerCase() === q);
  if (exact) return exact;
  const portOf = (r: VipRef) => r.vip.replace(/\/(tcp|udp)$/, '').replace(/^.*:/, '');
  const hostPort = all.filter((r) => r.vip.replace(/\/(tcp|udp)$/, '').toLowerCase() === q);
  const names = (r: VipRef) => {
    const n = (r.name ?? '').toLowerCase();
    const label = n.split('.')[0] ?? '';
    return n ? [n, label, `/${label}`] : [];
  };
  const byName = hostPort.length ? hostPort : all.filter((r) => names(r).includes(q) || names(r).some((n) => `${n}:${portOf(r)}` === q));
  if (byName.length === 1) return byName[0]!;
  if (byName.length > 1) throw new AmbiguousVipError(`'${asked}' names ${byName.length} VIPs (${byName.map((r) => r.vip).join(', ')}): ask for one as IP:PORT/PROTO or NAME:PORT`);
  throw new NotFoundError(`no VIP '${asked}' (known: ${all.map((r) => r.vip).join(', ') || 'none'}); name one as IP:PORT/PROTO, IP:PORT or its name`);
}
