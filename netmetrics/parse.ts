/**
 * One parser for what an agent answers at `GET /net/v1/metrics` (contracts/netmetrics.ts): a typed
 * NodeNetMetrics or an error naming the first field that is wrong, so a bad agent is reported and
 * never reaches the windows.
 */
import { CONNECT_LATENCY_BUCKETS, type BackendMetrics, type NodeNetMetrics, type VipMetrics } from '../contracts/index.js';

export class MetricsParseError extends Error {
  override name = 'MetricsParseError';
}

const DRIVERS = new Set(['nftables', 'ipvs', 'userspace']);
const VIP = /^(\[[0-9a-fA-F:.]+\]|[0-9.]+):\d{1,5}\/(tcp|udp)$/;
const BACKEND = /^(\[[0-9a-fA-F:.]+\]|[0-9.]+):\d{1,5}$/;

type Obj = Record<string, unknown>;
const fail = (where: string, what: string): never => {
  throw new MetricsParseError(`${where}: ${what}`);
};
const obj = (x: unknown, where: string): Obj => (typeof x === 'object' && x !== null && !Array.isArray(x) ? (x as Obj) : fail(where, 'not an object'));
const arr = (x: unknown, where: string): unknown[] => (Array.isArray(x) ? x : fail(where, 'not an array'));
const str = (x: unknown, where: string): string => (typeof x === 'string' && x ? x : fail(where, 'not a non-empty string'));
const count = (x: unknown, where: string): number => (typeof x === 'number' && Number.isFinite(x) && x >= 0 ? x : fail(where, `${JSON.stringify(x)} is not a count (a finite number >= 0)`));
const optCount = (x: unknown, where: string): number | undefined => (x === undefined ? undefined : count(x, where));

function backend(x: unknown, where: string): BackendMetrics {
  const o = obj(x, where);
  const name = str(o.backend, `${where}.backend`);
  if (!BACKEND.test(name)) fail(`${where}.backend`, `'${name}' is not IP:PORT`);
  const out: BackendMetrics = { backend: name };
  const c = optCount(o.connections, `${where}.connections`);
  const f = optCount(o.failures, `${where}.failures`);
  const b = optCount(o.bytes, `${where}.bytes`);
  if (c !== undefined) out.connections = c;
  if (f !== undefined) out.failures = f;
  if (b !== undefined) out.bytes = b;
  if (o.latency !== undefined) {
    const l = obj(o.latency, `${where}.latency`);
    const counts = arr(l.counts, `${where}.latency.counts`).map((v, i) => count(v, `${where}.latency.counts[${i}]`));
    if (counts.length !== CONNECT_LATENCY_BUCKETS.length + 1) fail(`${where}.latency.counts`, `${counts.length} entries, wanted ${CONNECT_LATENCY_BUCKETS.length + 1} (the buckets and +Inf)`);
    out.latency = { counts, sum: count(l.sum, `${where}.latency.sum`) };
  }
  return out;
}

function vip(x: unknown, where: string): VipMetrics {
  const o = obj(x, where);
  const name = str(o.vip, `${where}.vip`);
  if (!VIP.test(name)) fail(`${where}.vip`, `'${name}' is not IP:PORT/PROTO`);
  const out: VipMetrics = { vip: name, backends: arr(o.backends, `${where}.backends`).map((b, i) => backend(b, `${where}.backends[${i}]`)) };
  if (o.name !== undefined) out.name = str(o.name, `${where}.name`);
  return out;
}

export function parseNodeMetrics(x: unknown): NodeNetMetrics {
  const o = obj(x, 'body');
  const driver = str(o.driver, 'driver');
  if (!DRIVERS.has(driver)) fail('driver', `'${driver}' is not nftables, ipvs or userspace`);
  const m = obj(o.measures, 'measures');
  const flag = (k: string) => (typeof m[k] === 'boolean' ? (m[k] as boolean) : fail(`measures.${k}`, 'not a boolean'));
  return {
    node: str(o.node, 'node'),
    driver: driver as NodeNetMetrics['driver'],
    measures: { connections: flag('connections'), failures: flag('failures'), bytes: flag('bytes'), latency: flag('latency') },
    since: count(o.since, 'since'),
    at: count(o.at, 'at'),
    vips: arr(o.vips, 'vips').map((v, i) => vip(v, `vips[${i}]`)),
  };
}
