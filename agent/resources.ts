/**
 * Parsers for the agent's `--resources` and `--attributes` flags (Mesos syntax) and the Mesos
 * text form of port ranges. Errors name the bad item.
 */
import { ConfigError } from '../common/errors.js';
import type { PortRange, Resources } from '../contracts/index.js';

export const DEFAULT_RESOURCES: Resources = { cpus: 4, mem: 4096, disk: 10000, ports: [[31000, 32000]] };

/** `cpus:4;mem:4096;disk:10000;ports:[31000-32000,33000-33100]` -> Resources (missing keys keep defaults). */
export function parseResources(text: string, defaults: Resources = DEFAULT_RESOURCES): Resources {
  const out: Resources = { ...defaults, ports: [...defaults.ports] };
  for (const item of text.split(';').map((s) => s.trim()).filter(Boolean)) {
    const i = item.indexOf(':');
    if (i <= 0) throw new ConfigError('resources', `'${item}' is not name:value`);
    const name = item.slice(0, i).trim();
    const value = item.slice(i + 1).trim();
    if (name === 'ports') out.ports = parsePortRanges(value, 'resources.ports');
    else if (name === 'cpus' || name === 'mem' || name === 'disk') out[name] = parseScalar(value, `resources.${name}`);
    else throw new ConfigError(`resources.${name}`, 'unknown resource (known: cpus, mem, disk, ports)');
  }
  return out;
}

function parseScalar(v: string, field: string): number {
  const n = Number(v);
  if (v === '' || !Number.isFinite(n) || n < 0) throw new ConfigError(field, `'${v}' is not a non-negative number`);
  return n;
}

/** `[31000-32000, 33000-33001]` -> [[31000,32000],[33000,33001]]. */
export function parsePortRanges(v: string, field = 'ports'): PortRange[] {
  const m = /^\[(.*)\]$/.exec(v.trim());
  if (!m) throw new ConfigError(field, `'${v}' is not a range list like [31000-32000]`);
  const ranges: PortRange[] = [];
  for (const part of m[1]!.split(',').map((s) => s.trim()).filter(Boolean)) {
    const r = /^(\d+)-(\d+)$/.exec(part);
    if (!r) throw new ConfigError(field, `'${part}' is not a range like 31000-32000`);
    const a = Number(r[1]);
    const b = Number(r[2]);
    if (a < 1 || b > 65535 || a > b) throw new ConfigError(field, `'${part}' must satisfy 1 <= begin <= end <= 65535`);
    ranges.push([a, b]);
  }
  return ranges;
}

export { formatRanges as formatPortRanges, portsToRanges } from '../common/port-ranges.js';

/** `rack:a;zone:1` -> {rack: 'a', zone: '1'}. */
export function parseAttributes(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of text.split(';').map((s) => s.trim()).filter(Boolean)) {
    const i = item.indexOf(':');
    if (i <= 0 || i === item.length - 1) throw new ConfigError('attributes', `'${item}' is not name:value`);
    out[item.slice(0, i).trim()] = item.slice(i + 1).trim();
  }
  return out;
}
