/**
 * Reads the Prometheus text format far enough for the dashboard's samples: the sum of a metric's
 * samples, optionally only those whose labels include `match`. Comment lines, `_bucket` series of
 * other names and malformed lines are ignored.
 */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

export function parsePromText(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = LINE.exec(line);
    if (!m) continue;
    const value = Number(m[3]);
    if (!Number.isFinite(value)) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(LABEL)) labels[l[1]!] = l[2]!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    out.push({ name: m[1]!, labels, value });
  }
  return out;
}

/** Sum of `name`'s samples whose labels include every pair of `match`; undefined when none. */
export function sumOf(samples: Sample[], name: string, match: Record<string, string> = {}): number | undefined {
  let sum: number | undefined;
  for (const s of samples) {
    if (s.name !== name || !Object.entries(match).every(([k, v]) => s.labels[k] === v)) continue;
    sum = (sum ?? 0) + s.value;
  }
  return sum;
}
