/**
 * The master and agent plugins wired like the real processes: sources and consumers added to the
 * process's registration object (as the composition root hands it to every plugin), before and
 * after the control plane is built; `GET /v1/control/agents` and `sextant control status` on top.
 */
import t from 'tap';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureCa, issueCert, type LeafFiles } from '../../common/pki.js';
import { createRegistry } from '../../common/metrics.js';
import { Router, serve } from '../../common/http.js';
import { createAgentControl, createMasterControl, type AgentHandle, type KvStore, type MasterHandle } from '../../contracts/index.js';
import { agentHost, freePort, masterHost, requireTools } from '../../test/lib/index.js';
import { agentUri, masterUri } from '../identity.js';
import { main as cli } from '../cli.js';
import { controlAgentPlugin, controlMasterPlugin } from '../index.js';
import { clientReaches, RecordingConsumer, serverSees, SettableSource, vip } from './helpers.js';
import type { ControlClient } from '../client.js';
import type { ControlServer } from '../server.js';

class MemKv implements KvStore {
  m = new Map<string, unknown>();
  async get<T>(k: string) {
    return structuredClone(this.m.get(k)) as T | undefined;
  }
  async put(k: string, v: unknown) {
    this.m.set(k, structuredClone(v));
  }
  async delete(k: string) {
    this.m.delete(k);
  }
  async list<T>(p: string) {
    return [...this.m].filter(([k]) => k.startsWith(p)).sort() as [string, T][];
  }
}

t.test('master and agent plugins, status API and CLI', async (t) => {
  const router = new Router();
  const api = await serve(router, { host: '127.0.0.1', port: 0 });
  t.teardown(() => api.close());
  const apiAddr = `127.0.0.1:${api.address().port}`;
  const state = { leader: `master@127.0.0.1:${api.address().port}`, slaves: [{ id: 'S1', pid: 'slave(1)@127.0.0.1:5051' }], frameworks: [] };
  const fns = new Set<() => void>();
  const master: MasterHandle = {
    masterId: 'M1',
    ip: '127.0.0.1',
    port: api.address().port,
    state: () => state,
    onChange: (fn) => (fns.add(fn), () => fns.delete(fn)),
    store: new MemKv(),
    routes: (reg) => reg(router),
    registry: createRegistry(),
  };
  const port = await freePort();
  const masterControl = createMasterControl();
  masterControl.addSource(new SettableSource('vips', [vip('web', '11.0.0.1', [['127.0.0.1', 31000]])])); // before the server: waits
  const server = controlMasterPlugin({ port, coalesceMs: 5 })(masterHost(master, 'control', masterControl)) as ControlServer;
  await server.start();
  t.teardown(() => server.stop());

  const agentHandle = (agentId: string): AgentHandle => ({ agentId, ip: '127.0.0.1', workDir: '/nonexistent', masters: [apiAddr], registry: createRegistry(), routes: () => {} });
  const agentControl = createAgentControl();
  const l4lb = new RecordingConsumer('l4lb', ['vips']);
  agentControl.addConsumer(l4lb); // before the client: waits
  const client = controlAgentPlugin({ port })(agentHost(agentHandle('S1'), 'control', agentControl)) as ControlClient;
  await client.start();
  t.teardown(() => client.stop());
  await clientReaches(client, (s) => s.applied > 0, 'first version');
  const dispatcher = new RecordingConsumer('dispatcher', ['zones', 'masters']);
  agentControl.addConsumer(dispatcher); // after the client started: resubscribes
  await clientReaches(client, () => dispatcher.views.length > 0, 'dispatcher view');
  const names = dispatcher.last!.parts.zones.map((z) => `${z.name} ${z.data}`);
  t.ok(names.includes('web.marathon.l4lb.thisdcos.directory 11.0.0.1'), 'VIP name in zones');
  t.ok(names.includes('leader.dcos.thisdcos.directory 127.0.0.1'), 'leader in zones');
  t.equal(dispatcher.last!.parts.masters[0]?.control_port, port, 'masters part');
  t.equal(l4lb.last!.parts.vips.length, 1, 'l4lb still has its VIP');

  // An agent the master does not know is refused and leaves no trace.
  const stranger = controlAgentPlugin({ port })(agentHost(agentHandle('S9'), 'control')) as ControlClient;
  await stranger.start();
  t.teardown(() => stranger.stop());

  const status = await serverSees(server, (s) => s.agents.length === 1 && s.agents[0]!.lag === 0, 'S1 converged');
  t.same(status.agents.map((a) => a.agent_id), ['S1']);
  t.equal(stranger.state().connected, false, 'unknown agent not connected');

  const out: string[] = [];
  const err: string[] = [];
  const io = { out: (s: string) => out.push(s), err: (s: string) => err.push(s) };
  t.equal(await cli(['status', '--master', apiAddr], io), 0, 'exit 0 when all converged');
  t.match(out.join(''), /1\/1 agents converged[\s\S]*S1\s+yes/);
  t.equal(await cli(['status', '--master', apiAddr, '--json'], io), 0);
  t.equal(JSON.parse(out[1]!).agents[0].agent_id, 'S1');
  t.equal(await cli(['status', '--master', `http://${apiAddr}/`], io), 0, 'the master as a URL, as `sextant network` takes it');
  t.match(out[2], /1\/1 agents converged/);
  t.equal(await cli(['status', '--master', 'http://'], io), 2, 'not an address: usage error');
  t.match(err.join(''), /--master "http:\/\/" is not an address/);
  t.equal(await cli(['bogus'], io), 2, 'usage error');
  t.match(err.join(''), /unknown command 'bogus'/);
});

/** The handle carries the PEM contents (as the master and agent load them), not paths. */
const pem = (f: LeafFiles) => ({ ca: readFileSync(f.ca), cert: readFileSync(f.cert), key: readFileSync(f.key) });

t.test("the plugins take the node's certificate from the handle (tls): mutual TLS end to end", async (t) => {
  requireTools('openssl');
  const dir = mkdtempSync(join(tmpdir(), 'sx-control-plugin-tls-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const ca = await ensureCa(join(dir, 'ca'));
  const masterCert = await issueCert(ca, dir, 'master', { cn: 'master', usage: 'both', ips: ['127.0.0.1'], uris: [masterUri('127.0.0.1')] });
  const s1Cert = await issueCert(ca, dir, 's1', { cn: 'S1', usage: 'both', uris: [agentUri('S1')] });
  const state = { slaves: [{ id: 'S1' }], frameworks: [] };
  const master: MasterHandle = {
    masterId: 'M1', ip: '127.0.0.1', port: 5050, state: () => state, onChange: () => () => {}, store: new MemKv(), routes: () => {}, registry: createRegistry(), tls: pem(masterCert),
  };
  const port = await freePort();
  const server = controlMasterPlugin({ port, coalesceMs: 5 })(masterHost(master, 'control')) as ControlServer;
  await server.start();
  t.teardown(() => server.stop());
  t.equal(server.authenticated, true, "the master handle's tls turns on mutual TLS");
  const agent = (tls?: LeafFiles): AgentHandle => ({ agentId: 'S1', ip: '127.0.0.1', workDir: '/nonexistent', masters: ['127.0.0.1:5050'], registry: createRegistry(), routes: () => {}, ...(tls ? { tls: pem(tls) } : {}) });
  const plain = controlAgentPlugin({ port })(agentHost(agent(), 'control')) as ControlClient;
  await plain.start();
  t.teardown(() => plain.stop());
  await clientReaches(plain, (s) => s.broken >= 2, 'the plaintext agent fails to connect');
  const client = controlAgentPlugin({ port })(agentHost(agent(s1Cert), 'control')) as ControlClient;
  await client.start();
  t.teardown(() => client.stop());
  await clientReaches(client, (s) => s.connected && s.applied === server.engine.version, "S1 with its certificate converges");
  t.same([plain.state().updates, plain.state().connected], [0, false], 'the plaintext agent got nothing');
});
