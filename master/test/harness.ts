/** Shared setup for master integration tests: a master on a throwaway loopback /24 and work dir. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeClock, requestJson } from '../../common/index.js';
import { loopbackBlock } from '../../test/lib/index.js';
import { Master } from '../master.js';
import { DEFAULT_LIMITS, type Limits } from '../limits.js';
import { FakeAgent, type FakeAgentOptions } from '../../test/lib/fake-agent.js';

process.env.SEXTANT_LOG_LEVEL ??= 'warn';

interface Teardownable {
  teardown(fn: () => unknown): void;
}

export interface Harness {
  master: Master;
  clock: FakeClock;
  ip: (h: number) => string;
  workDir: string;
  mesos: string;
  marathon: string;
  agent(h: number, o?: Partial<FakeAgentOptions>): Promise<FakeAgent>;
  api(path: string, opts?: { method?: string; body?: unknown }): Promise<{ status: number; body: any }>;
  state(): Promise<any>;
}

export async function startMaster(t: Teardownable, o: { agentTimeoutMs?: number; limits?: Partial<Limits>; vipRanges?: string[] } = {}): Promise<Harness> {
  const ip = loopbackBlock();
  const workDir = mkdtempSync(join(tmpdir(), 'sx-master-'));
  t.teardown(() => rmSync(workDir, { recursive: true, force: true }));
  const clock = new FakeClock(Date.now());
  const master = new Master({ ip: ip(1), port: 0, marathonPort: 0, workDir, clock, agentTimeoutMs: o.agentTimeoutMs ?? 15000, limits: { ...DEFAULT_LIMITS, ...o.limits }, vipRanges: o.vipRanges ?? [] });
  await master.start();
  t.teardown(() => master.stop());
  const mesos = `${ip(1)}:${master.port}`;
  const marathon = `${ip(1)}:${master.marathonPort}`;
  const h: Harness = {
    master,
    clock,
    ip,
    workDir,
    mesos,
    marathon,
    async agent(n, extra = {}) {
      const a = new FakeAgent({ ip: ip(n), master: mesos, hostname: `agent${n}.test`, ...extra });
      await a.start();
      t.teardown(() => a.stop());
      await a.register();
      if (extra.answerPing !== false) await master.agents.whenVerified(a.id!);
      return a;
    },
    api: (path, opts = {}) => requestJson(`http://${marathon}${path}`, opts) as Promise<{ status: number; body: any }>,
    state: async () => (await requestJson(`http://${mesos}/master/state`)).body as any,
  };
  return h;
}

/** Raw POST with a body that is not JSON (malformed input tests). */
export async function postRaw(url: string, text: string): Promise<{ status: number; body: any }> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: text });
  const body = await res.text();
  try {
    return { status: res.status, body: JSON.parse(body) };
  } catch {
    return { status: res.status, body };
  }
}
