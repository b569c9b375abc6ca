/** ControlClient: backoff on the injected clock, failover along the ring, bad updates. */
import t from 'tap';
import { FakeClock } from '../../common/clock.js';
import { freePort } from '../../test/lib/index.js';
import { MasterRing } from '../ring.js';
import { HeldView } from '../view.js';
import { clientReaches, RecordingConsumer, SettableSource, startClient, startServer, vip } from './helpers.js';

t.test('reconnect backoff doubles on the injected clock, up to the max', async (t) => {
  const clock = new FakeClock(0);
  const dead = `127.0.0.1:${await freePort()}`; // nothing listens there
  const c = await startClient(t, { agentId: 'a1', masters: [dead], clock, random: () => 1, backoff: { initialMs: 100, maxMs: 400 }, consumers: [] });
  const expected = [100, 200, 400, 400];
  for (let i = 0; i < expected.length; i++) {
    await clientReaches(c, (s) => s.broken === i + 1, `failure ${i + 1}`);
    clock.advance(expected[i]! - 1);
    await new Promise((r) => setImmediate(r));
    t.equal(c.state().broken, i + 1, `no attempt before ${expected[i]} ms`);
    clock.advance(1);
  }
  await clientReaches(c, (s) => s.broken === expected.length + 1, 'next failure');
});

t.test('a lost preferred master: the agent moves to the next one in ring order', async (t) => {
  const vips = new SettableSource('vips', [vip('web', '11.0.0.1', [['10.0.0.1', 80]])]);
  const up = await startServer(t, { sources: [vips], history: 'h' });
  const down = `127.0.0.1:${await freePort()}`;
  const masters = [`127.0.0.1:${up.port}`, down];
  // Find an agent id whose preferred master is the one that is down.
  let id = '';
  for (let i = 0; !id; i++) if (new MasterRing(masters).preferred(`agent-${i}`) === down) id = `agent-${i}`;
  const c = await startClient(t, { agentId: id, masters, consumers: [new RecordingConsumer('l4lb', ['vips'])] });
  const s = await clientReaches(c, (s) => s.applied === 1, 'applied via the other master');
  t.equal(s.master, masters[0]);
  t.ok(s.broken >= 1, 'after failing on the preferred one');
});

t.test('held view: a delta that does not follow, or a bad entry, changes nothing', async (t) => {
  const v = new HeldView();
  const full = { history: 'h', version: 3, full: true, from_version: 0, parts: [{ part: 'vips', upserts: ['{"key":"a","x":1}'], removes: [] }], overlay: '' };
  v.apply(full);
  const rows = [
    { name: 'wrong base version', u: { ...full, full: false, from_version: 2, version: 4 }, err: /does not follow/ },
    { name: 'other history', u: { ...full, full: false, history: 'g', from_version: 3, version: 4 }, err: /does not follow/ },
    { name: 'entry not JSON', u: { ...full, full: false, from_version: 3, version: 4, parts: [{ part: 'vips', upserts: ['{'], removes: ['a'] }] }, err: /not JSON/ },
    { name: 'entry without key', u: { ...full, full: false, from_version: 3, version: 4, parts: [{ part: 'vips', upserts: ['{"x":2}'], removes: ['a'] }] }, err: /no string key/ },
    { name: 'unknown part', u: { ...full, full: false, from_version: 3, version: 4, parts: [{ part: 'nope', upserts: [], removes: ['a'] }] }, err: /unknown part/ },
  ];
  for (const r of rows) {
    t.throws(() => v.apply(r.u), r.err, r.name);
    t.same([v.version, v.snapshot().parts.vips], [3, [{ key: 'a', x: 1 }]], `${r.name}: view unchanged`);
  }
  v.apply({ ...full, full: false, from_version: 3, version: 4, parts: [{ part: 'vips', upserts: ['{"key":"b"}'], removes: ['a'] }] });
  t.same([v.version, v.snapshot().parts.vips], [4, [{ key: 'b' }]], 'a following delta applies');
});

t.test('an update over gRPC\'s 4 MiB default (10,000 VIPs x 3 backends) arrives and is applied', async (t) => {
  const many = Array.from({ length: 10_000 }, (_, i) =>
    vip(`app-with-a-long-name-${i}`, `11.0.${i >> 8}.${i & 255}`, [
      [`10.1.${i >> 8}.${i & 255}`, 20000 + (i % 30000)],
      [`10.2.${i >> 8}.${i & 255}`, 20000 + (i % 30000)],
      [`10.3.${i >> 8}.${i & 255}`, 20000 + (i % 30000)],
    ]),
  );
  const vips = new SettableSource('vips', many);
  const server = await startServer(t, { sources: [vips], history: 'h' });
  const bytes = server.engine.updateFor('', 0, ['vips']).buf.length;
  t.ok(bytes > 4 << 20, `the full update is ${(bytes / 1048576).toFixed(1)} MiB`);
  const consumer = new RecordingConsumer('l4lb', ['vips']);
  const c = await startClient(t, { agentId: 'big', masters: [`127.0.0.1:${server.port}`], consumers: [consumer] });
  const s = await clientReaches(c, (s) => s.applied === 1, 'the big update applied', 30_000);
  t.equal(s.broken, 0, 'no broken stream on the way');
  t.equal(consumer.last!.parts.vips.length, 10_000, 'every VIP reached the consumer');
});
