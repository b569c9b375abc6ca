/** A follower master's ports under mutual TLS (#30): https redirects, the Marathon proxy to the leader with the master's certificate, no caller without a certificate. */
import t from 'tap';
import https from 'node:https';
import { createRegistry, loadTls, requestJson, Router, serve, tlsDirPaths } from '../../common/index.js';
import { loopbackBlock, makeTestPki, requireTools } from '../../test/lib/index.js';
import { FollowerServer } from '../follower.js';

requireTools('openssl');

function get(url: string, tls: { ca: Buffer; cert?: Buffer; key?: Buffer }): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    https.get(url, { ...tls, agent: false }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d)).on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    }).on('error', reject);
  });
}

t.test('follower under mutual TLS', async (t) => {
  const ip = loopbackBlock();
  const pki = await makeTestPki(t);
  const leaderTls = loadTls(tlsDirPaths(await pki.masterDir(ip(1))));
  const followerTls = loadTls(tlsDirPaths(await pki.masterDir(ip(2))));
  // The leader's Marathon: only a master may proxy to it here.
  const leader = await serve(new Router().get('/v2/apps', () => ({ json: { apps: [] } })), { host: ip(1), port: 0, tls: { material: leaderTls, kinds: ['master'] } });
  t.teardown(() => leader.close());
  const f = new FollowerServer({ ip: ip(2), port: 0, marathonPort: 0, registry: createRegistry(), tls: followerTls, leader: () => `${ip(1)}:5050`, marathonLeader: async () => `${ip(1)}:${leader.address().port}` });
  await f.start();
  t.teardown(() => f.stop());
  const [mesos, marathon] = f.ports;
  const cli = pki.client(pki.cli);
  const r = await get(`https://${ip(2)}:${mesos}/master/state`, cli);
  t.equal(r.status, 307);
  t.equal(r.headers.location, `https://${ip(1)}:5050/master/state`, 'the redirect names https');
  const m = await get(`https://${ip(2)}:${marathon}/v2/apps`, cli);
  t.match(m, { status: 200, headers: { 'x-marathon-leader': `https://${ip(1)}:${leader.address().port}` } }, "proxied to the leader's Marathon with the follower's certificate");
  t.same(JSON.parse(m.body), { apps: [] });
  await t.rejects(requestJson(`https://${ip(2)}:${mesos}/master/state`, { tls: { ca: cli.ca } }), 'no certificate: refused at the TLS layer');
  await t.rejects(requestJson(`https://${ip(2)}:${marathon}/v2/apps`, { tls: pki.client(pki.foreign) }), 'another CA: refused');
});
