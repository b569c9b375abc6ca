/**
 * Real gRPC on loopback: one ControlServer, several ControlClients. Convergence, NACK visibility,
 * restart with the same / another history, fail static.
 */
import t from 'tap';
import { clientReaches, serverSees, MemoryStore, RecordingConsumer, SettableSource, startClient, startServer, vip } from './helpers.js';

const VIP_IP = '11.0.0.1';
const B1: [string, number] = ['10.0.0.1', 31000];
const B2: [string, number] = ['10.0.0.2', 31001];

t.test('every client converges; a NACKing client shows its error while the others converge', async (t) => {
  const vips = new SettableSource('vips', [vip('web', VIP_IP, [B1])]);
  const server = await startServer(t, { sources: [vips] });
  const addr = `127.0.0.1:${server.port}`;
  const consumers = ['a1', 'a2', 'a3'].map((id) => new RecordingConsumer(`l4lb-${id}`, ['vips']));
  consumers[2]!.failWith = 'ipvs: no such device';
  const clients = await Promise.all(['a1', 'a2', 'a3'].map((id, i) => startClient(t, { agentId: id, masters: [addr], consumers: [consumers[i]!] })));
  await Promise.all(clients.slice(0, 2).map((c) => clientReaches(c, (s) => s.applied === server.engine.version && s.version > 0, 'first version')));
  await clientReaches(clients[2]!, (s) => s.failed !== null, 'NACK');

  vips.set([vip('web', VIP_IP, [B1, B2])]);
  await server.engine.idle();
  const v = await new Promise<number>((r) => (server.engine.version > 1 ? r(server.engine.version) : server.engine.onVersion(r)));
  await Promise.all(clients.slice(0, 2).map((c) => clientReaches(c, (s) => s.applied === v, `version ${v}`)));
  for (const c of consumers.slice(0, 2)) t.same(c.last!.parts.vips[0]!.backends.map((b) => b.ip), ['10.0.0.1', '10.0.0.2'], `${c.name} has both backends`);

  await clientReaches(clients[2]!, (s) => s.failed === v, 'NACK of the new version');
  const status = await serverSees(server, (st) => st.agents.every((a) => a.failed === v || a.applied === v), 'every ACK/NACK');
  const bad = status.agents.find((a) => a.agent_id === 'a3')!;
  t.equal(bad.failed, v, 'status shows the failed version');
  t.match(bad.error, /l4lb-a3: ipvs: no such device/, 'status shows the error');
  t.ok(bad.lag > 0, 'and a lag');
  for (const id of ['a1', 'a2']) {
    const a = status.agents.find((x) => x.agent_id === id)!;
    t.same([a.applied, a.lag, a.failed, a.connected], [v, 0, null, true], `${id} converged`);
  }

  consumers[2]!.failWith = undefined;
  vips.set([vip('web', VIP_IP, [B2])]);
  await clientReaches(clients[2]!, (s) => s.failed === null && s.applied === server.engine.version, 'recovery');
  const after = await serverSees(server, (st) => st.agents.find((a) => a.agent_id === 'a3')!.lag === 0, 'a3 ACK');
  t.equal(after.agents.find((a) => a.agent_id === 'a3')!.error, null, 'error cleared once a later version applies');
});

t.test('consumers apply in registration order, each version once', async (t) => {
  const vips = new SettableSource('vips', [vip('web', VIP_IP, [B1])]);
  const zones = new SettableSource('zones', [{ key: 'a/A/1.1.1.1', name: 'a', type: 'A', data: '1.1.1.1' }]);
  const server = await startServer(t, { sources: [vips, zones] });
  const order: string[] = [];
  const l4lb = new RecordingConsumer('l4lb', ['vips'], order);
  const dns = new RecordingConsumer('dispatcher', ['zones'], order);
  const c = await startClient(t, { agentId: 'a1', masters: [`127.0.0.1:${server.port}`], consumers: [l4lb, dns] });
  await clientReaches(c, (s) => s.applied > 0, 'first version');
  t.same(order, ['l4lb', 'dispatcher']);
  t.equal(dns.last!.parts.zones.length, 1);
  l4lb.failWith = 'boom';
  vips.set([]);
  await clientReaches(c, (s) => s.failed !== null, 'NACK');
  t.same(order, ['l4lb', 'dispatcher', 'l4lb'], 'a failing consumer stops the ones after it (backends before DNS)');
});

t.test('server restart: same history resumes with a delta, another history gets a full snapshot; consumers keep state meanwhile', async (t) => {
  const store = new MemoryStore();
  const vips = new SettableSource('vips', [vip('web', VIP_IP, [B1])]);
  let server = await startServer(t, { sources: [vips], store });
  const port = server.port;
  const consumer = new RecordingConsumer('l4lb', ['vips']);
  const c = await startClient(t, { agentId: 'a1', masters: [`127.0.0.1:${port}`], consumers: [consumer] });
  await clientReaches(c, (s) => s.applied === 1, 'version 1');
  t.equal(c.state().full_updates, 1, 'first contact is a full snapshot');
  const history = server.engine.history;
  await server.stop();
  await clientReaches(c, (s) => !s.connected, 'disconnect');
  t.equal(consumer.views.length, 1, 'nothing re-applied while down');
  t.equal(c.snapshot().parts.vips.length, 1, 'the held view is kept (fail static)');

  // Same history (restored from the store), one backend more.
  vips.set([vip('web', VIP_IP, [B1, B2])]);
  server = await startServer(t, { sources: [vips], store, port });
  t.equal(server.engine.history, history, 'history restored');
  await clientReaches(c, (s) => s.applied === 2, 'version 2 after restart');
  t.same([c.state().full_updates, c.state().history], [1, history], 'resumed with a delta, no full resync');
  t.equal(consumer.last!.parts.vips[0]!.backends.length, 2);
  await server.stop();

  // Another history: the agent gets a full snapshot.
  server = await startServer(t, { sources: [vips], port, history: 'other' });
  await clientReaches(c, (s) => s.history === 'other' && s.applied === 1, 'new history');
  t.equal(c.state().full_updates, 2, 'a full snapshot for another history');
  t.equal(consumer.last!.parts.vips[0]!.backends.length, 2, 'and the same content');
});
