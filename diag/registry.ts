/**
 * The process's health registry: components add checks (contracts/health.ts), the node's
 * `/system/health/v1` runs them all at once. A check that throws, rejects or outlives its timeout
 * is unhealthy with `output` saying why; it never takes the route (or the daemon) down.
 */
import type { HealthCheck, HealthChecks, HealthResult } from '../contracts/index.js';

export interface UnitHealth {
  id: string;
  name: string;
  /** 1 healthy, 0 unhealthy (DC/OS 3DT). */
  health: 0 | 1;
  output: string;
  help: string;
}

export const DEFAULT_CHECK_TIMEOUT_MS = 4000;

export class HealthRegistry implements HealthChecks {
  private readonly checks = new Map<string, HealthCheck>();

  add(check: HealthCheck): () => void {
    if (this.checks.has(check.id)) throw new Error(`health check ${check.id} is registered twice`);
    this.checks.set(check.id, check);
    return () => {
      if (this.checks.get(check.id) === check) this.checks.delete(check.id);
    };
  }

  ids(): string[] {
    return [...this.checks.keys()].sort();
  }

  /** Run every check in parallel, each bounded by `timeoutMs`; units sorted by id. */
  async run(timeoutMs = DEFAULT_CHECK_TIMEOUT_MS): Promise<UnitHealth[]> {
    const list = [...this.checks.values()].sort((a, b) => a.id.localeCompare(b.id));
    return Promise.all(list.map(async (c) => ({ id: c.id, name: c.name, help: c.help, ...toUnit(await runOne(c, timeoutMs)) })));
  }
}

function toUnit(r: HealthResult): { health: 0 | 1; output: string } {
  return { health: r.healthy ? 1 : 0, output: r.output };
}

/** One check with a deadline; what went wrong becomes the unhealthy output. */
export async function runOne(c: HealthCheck, timeoutMs: number): Promise<HealthResult> {
  const ac = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<HealthResult>((resolve) => {
    timer = setTimeout(() => {
      ac.abort();
      resolve({ healthy: false, output: `check did not answer within ${timeoutMs} ms` });
    }, timeoutMs);
  });
  try {
    const r = await Promise.race([
      Promise.resolve()
        .then(() => c.check(ac.signal))
        .then(validResult),
      deadline,
    ]);
    return r;
  } catch (e) {
    return { healthy: false, output: `check failed: ${e instanceof Error ? e.message : String(e)}` };
  } finally {
    clearTimeout(timer);
  }
}

function validResult(r: unknown): HealthResult {
  const o = r as Partial<HealthResult> | undefined;
  if (!o || typeof o.healthy !== 'boolean' || typeof o.output !== 'string') throw new Error(`check returned ${JSON.stringify(r)}, not {healthy, output}`);
  return { healthy: o.healthy, output: o.output };
}
