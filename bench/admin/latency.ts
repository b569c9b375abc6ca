/**
 * Added latency on a shared machine: many short rounds, each taking every target in turn (the order
 * rotated per round), one connection, a fixed number of requests (wrk stopped by a Lua script after
 * `n` answers), and the per-round differences to the upstream measured directly. A burst of load from
 * elsewhere hits one round of every target rather than one target's whole run; the median over rounds
 * of the per-round differences is the figure, with its interquartile range to show the spread.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { percentile } from '../lib/stats.js';

export interface LatTarget {
  name: string;
  url: string;
  token?: string;
}

export interface LatSample {
  requests: number;
  /** µs */
  p50: number;
  p99: number;
}

const SCRIPT = `-- written by bench/admin/latency.ts
local n, N = 0, tonumber(os.getenv("SEXTANT_WRK_N"))
function response(status) n = n + 1 if status ~= 200 then io.stderr:write("status " .. status .. "\\n") end if n >= N then wrk.thread:stop() end end
function done(summary, latency) io.write(string.format("SEXTANT_LAT %d %d %d\\n", summary.requests, latency:percentile(50), latency:percentile(99))) end
`;

async function one(script: string, t: LatTarget, n: number, seconds: number): Promise<LatSample> {
  const args = ['-t', '1', '-c', '1', '-d', `${seconds}s`, '-s', script, ...(t.token ? ['-H', `Authorization: token=${t.token}`] : []), t.url];
  const { stdout, stderr } = await promisify(execFile)('wrk', args, { env: { ...process.env, SEXTANT_WRK_N: String(n) }, timeout: (seconds + 30) * 1000 });
  const m = /SEXTANT_LAT (\d+) (\d+) (\d+)/.exec(stdout);
  if (!m) throw new Error(`wrk gave no latency for ${t.url}: ${stdout} ${stderr}`);
  if (/status \d+/.test(stderr) || /Socket errors|Non-2xx/.test(stdout)) throw new Error(`wrk saw errors on ${t.url}: ${stdout} ${stderr}`);
  return { requests: Number(m[1]), p50: Number(m[2]), p99: Number(m[3]) };
}

/** `rounds` rounds over `targets` (the first is the baseline, e.g. direct), `n` requests each (at most `seconds`). */
export async function latencyRounds(dir: string, targets: LatTarget[], rounds: number, n: number, seconds: number): Promise<Map<string, LatSample[]>> {
  const script = path.join(dir, 'latency.lua');
  fs.writeFileSync(script, SCRIPT);
  const out = new Map<string, LatSample[]>(targets.map((t) => [t.name, []]));
  for (let r = 0; r < rounds; r++) {
    const k = r % targets.length;
    for (const t of [...targets.slice(k), ...targets.slice(0, k)]) out.get(t.name)!.push(await one(script, t, n, seconds));
  }
  return out;
}

/** Median and interquartile range of the per-round differences `of - base` (ms), for p50 or p99. */
export function addedMs(s: Map<string, LatSample[]>, of: string, base: string, q: 'p50' | 'p99'): { median: number; p25: number; p75: number } {
  const a = s.get(of)!;
  const b = s.get(base)!;
  const d = a.map((x, i) => (x[q] - b[i]![q]) / 1000);
  return { median: percentile(d, 50), p25: percentile(d, 25), p75: percentile(d, 75) };
}

export const fmtAdded = (x: { median: number; p25: number; p75: number }) => `${x.median.toFixed(3)} (${x.p25.toFixed(3)} … ${x.p75.toFixed(3)})`;
