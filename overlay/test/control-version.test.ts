/**
 * #28: the master's network and isolation writes name the control-plane version that carries them
 * (X-Sextant-Control-Version), from a real SnapshotEngine fed by the overlay's sources; an
 * idempotent write names the version already carrying it. `sextant network create|rm|isolate|allow`
 * wait for that version (agents' ACKs from a status route the test plays), with --json, --no-wait,
 * and an error when a master with a control plane names none.
 */
import t from 'tap';
import { createLogger } from '../../common/index.js';
import { SnapshotEngine, type ControlStatus } from '../../control/index.js';
import { main } from '../cli.js';
import type { WaitClock } from '../net-wait.js';
import { MemStore, serveOverlayMaster } from './harness.js';

const HEADER = 'x-sextant-control-version';

/** An overlay master whose writes ask a real engine (over its sources) for the settled version; agents S1, S2 apply what the test lets them. */
async function cluster(t: Parameters<typeof serveOverlayMaster>[0], o: { settled?: 'engine' | 'none' } = {}) {
  const engine = new SnapshotEngine({ coalesceMs: 0, history: 'h', log: createLogger('control-version-test') });
  const served = await serveOverlayMaster(t, new MemStore(), { settledVersion: () => (o.settled === 'none' ? Promise.resolve(undefined) : engine.settle()) });
  for (const s of served.master.sources()) engine.addSource(s);
  await engine.start();
  t.teardown(() => engine.stop());
  await engine.settle(); // the first version, from the sources as they start
  const applied = { S1: 0, S2: 0 };
  /** Each status read, S1 applies the current version and S2 the one it saw at the read before (an agent a poll behind). */
  let s2next = 0;
  served.m.router.get('/v1/control/agents', () => {
    applied.S1 = engine.version;
    applied.S2 = s2next;
    s2next = engine.version;
    const agent = (id: keyof typeof applied) => ({ agent_id: id, connected: true, applied: applied[id], failed: null, error: null });
    return { json: { history: 'h', version: engine.version, agents: [agent('S1'), agent('S2')] } as unknown as ControlStatus };
  });
  const write = async (method: string, path: string, body?: unknown) => {
    const r = await fetch(`${served.url}${path}`, { method, headers: { 'content-type': 'application/json' }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
    await r.text();
    return { status: r.status, version: r.headers.get(HEADER) };
  };
  const clock: WaitClock = { now: () => 0, sleep: async () => {} };
  const run = async (...argv: string[]) => {
    let out = '';
    let err = '';
    const code = await main([...argv, '--master', served.url], { out: (s) => (out += s), err: (s) => (err += s) }, { clock, pollMs: 0 });
    return { code, out, err };
  };
  return { engine, write, run, url: served.url };
}

t.test('each network and isolation write names the version carrying it; an idempotent one the current version', async (t) => {
  const { engine, write } = await cluster(t);
  const rows: [string, string, string, unknown, 'new' | 'same'][] = [
    ['create', 'POST', '/v1/networks', { name: 'hr', subnet: '10.10.0.0/16' }, 'new'],
    ['isolate deny', 'POST', '/v1/networks/isolation', { network: 'hr', default: 'deny' }, 'new'],
    ['isolate deny again', 'POST', '/v1/networks/isolation', { network: 'hr', default: 'deny' }, 'same'],
    ['allow', 'POST', '/v1/networks/isolation', { from: 'hr', to: 'dcos', ports: [80] }, 'new'],
    ['allow again', 'POST', '/v1/networks/isolation', { from: 'hr', to: 'dcos', ports: [80] }, 'same'],
    ['allow --delete', 'DELETE', '/v1/networks/isolation', { from: 'hr', to: 'dcos', ports: [80] }, 'new'],
    ['default back to allow', 'DELETE', '/v1/networks/isolation?network=hr', undefined, 'new'],
    ['rm', 'DELETE', '/v1/networks/hr', undefined, 'new'],
  ];
  for (const [what, method, path, body, kind] of rows) {
    const before = engine.version;
    const r = await write(method, path, body);
    t.ok(r.status < 300, `${what}: ${r.status}`);
    t.equal(r.version, String(engine.version), `${what}: names the version the engine holds once it answered`);
    t.equal(engine.version, kind === 'new' ? before + 1 : before, `${what}: ${kind === 'new' ? 'a new version carries it' : 'no new version, the current one carries it'}`);
  }
  const refused = await write('POST', '/v1/networks', { name: 'bad', subnet: 'nope' });
  t.same(refused, { status: 422, version: null }, 'a refused write names none');
});

t.test('create, isolate, allow and rm wait for the named version: progress, --json, --no-wait', async (t) => {
  const { run } = await cluster(t);
  const c = await run('create', 'hr', '--subnet', '10.10.0.0/16');
  t.equal(c.code, 0, c.err);
  t.match(c.out, /^created hr 10\.10\.0\.0\/16 \/24 per agent \(applied by 2 agents, version \d+\)$/m);
  t.equal(c.err, 'agents applied 1/2\nagents applied 2/2\n', 'S2 a poll behind: 1/2, then 2/2');
  const i = await run('isolate', 'hr', 'deny', '--json');
  t.equal(i.code, 0, i.err);
  const iv = JSON.parse(i.out) as { result: unknown; wait: { waited: string; version: number } };
  t.match(iv, { result: { network: 'hr', default: 'deny' }, wait: { waited: 'applied', agents: 2 } });
  const again = await run('isolate', 'hr', 'deny', '--json');
  t.match(JSON.parse(again.out), { wait: { waited: 'applied', version: iv.wait.version } }, 'the same default again: the version already carrying it');
  const a = await run('allow', 'hr', 'dcos', '--ports', '80');
  t.match(a.out, /^added rule hr>dcos:80 \(applied by 2 agents, version \d+\)$/m);
  const n = await run('allow', 'hr', 'dcos', '--ports', '80', '--delete', '--no-wait', '--json');
  t.match(JSON.parse(n.out), { result: { removed: 'hr>dcos:80' }, wait: { waited: 'skipped' } });
  const r = await run('rm', 'hr');
  t.match(r.out, /^removed hr \(applied by 2 agents, version \d+\)$/m);
});

t.test('a master with a control plane that names no version: the write is done, the wait is not (exit 1, saying so)', async (t) => {
  const { run } = await cluster(t, { settled: 'none' });
  const r = await run('isolate', 'dcos', 'deny', '--json');
  t.equal(r.code, 1);
  t.match(JSON.parse(r.out), { result: { network: 'dcos', default: 'deny' }, wait: { waited: 'unknown' } });
  t.match(r.err, /did not say which control-plane version carries the change/);
});
