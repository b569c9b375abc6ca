/**
 * Issue 30, the proxy: SSE from Marathon streams through (HTTP/1.1 and an HTTP/2 stream), a 10 MB
 * body reaches the upstream and one over the limit gets 413 before the upstream sees a request, a
 * slow upstream gets 504, a websocket works, HTTP/2 works, Location headers are the entry point's,
 * `/service/<app>/` names why there is no task, and a follower's redirect never reaches the client.
 */
import t from 'tap';
import { createHash } from 'node:crypto';
import http from 'node:http';
import http2 from 'node:http2';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { MasterUpstreams, type Target, type Upstreams } from '../index.js';
import { systemClock } from '../../common/index.js';
import { request, request2, spawnMaster, startEntry, type TestMaster } from './lib.js';

t.setTimeout(180_000);

/** A plain upstream on the master's address: /size counts the body, /slow never answers, upgrades echo. */
async function testUpstream(t: { teardown(fn: () => unknown): void }, host: string) {
  const seen = { requests: 0, complete: 0, aborted: 0 };
  const srv = http.createServer((req, res) => {
    seen.requests++;
    if (req.url === '/slow') return; // never answers
    const h = createHash('sha256');
    let n = 0;
    req.on('data', (c: Buffer) => ((n += c.length), h.update(c)));
    req.on('aborted', () => seen.aborted++);
    req.on('end', () => {
      seen.complete++;
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ bytes: n, sha256: h.digest('hex'), path: req.url }));
    });
  });
  srv.on('upgrade', (req: http.IncomingMessage, socket: Duplex) => {
    const accept = createHash('sha1').update(`${req.headers['sec-websocket-key']}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\nsec-websocket-accept: ${accept}\r\n\r\n`);
    socket.pipe(socket); // echo
  });
  await new Promise<void>((r) => srv.listen(0, host, r));
  t.teardown(() => new Promise<void>((r) => (srv.closeAllConnections(), srv.close(() => r()))));
  return { target: { host, port: (srv.address() as AddressInfo).port }, seen };
}

/** The master's upstreams, with `/service/echo/` sent to the test upstream. */
function withService(m: TestMaster, target: Target): Upstreams {
  const real = new MasterUpstreams({ ip: m.ip, port: m.port, marathonPort: m.marathonPort, mesosDnsPort: m.mesosDnsPort, clock: systemClock });
  return { mesos: () => real.mesos(), marathon: () => real.marathon(), mesosDns: () => real.mesosDns(), leaderChanged: () => real.leaderChanged(), service: async (app) => (app === '/echo' ? target : real.service(app)) };
}

t.test('proxy behaviour against a real master and a test upstream', async (t) => {
  const m = await spawnMaster(t);
  const up = await testUpstream(t, m.ip);
  const e = await startEntry(t, m, { upstreams: withService(m, up.target), limits: { upstreamTimeoutMs: 400 } });
  e.authority.user('root', 'superuser');
  const root = await e.authority.token('root');

  t.test('HTTP/2 (ALPN h2) and HTTP/1.1 both reach Marathon', async (t) => {
    const r2 = await request2(e.url, e.ca, '/marathon/v2/apps', { token: root });
    t.equal(r2.alpn, 'h2', 'negotiated HTTP/2');
    t.equal(r2.status, 200);
    t.same(r2.json(), { apps: [] });
    const r1 = await request(`${e.url}/marathon/v2/apps`, e.ca, { token: root });
    t.equal(r1.status, 200, 'HTTP/1.1 too');
  });

  t.test('SSE /marathon/v2/events streams an event as it happens (HTTP/1.1), and over an HTTP/2 stream', async (t) => {
    const events: string[] = [];
    const got = new Promise<void>((resolve, reject) => {
      const req = https.get(`${e.url}/marathon/v2/events`, { ca: e.ca, headers: { authorization: `token=${root}`, accept: 'text/event-stream' }, agent: false }, (res) => {
        t.equal(res.statusCode, 200);
        t.match(res.headers['content-type'], /text\/event-stream/);
        res.on('data', (c: Buffer) => {
          events.push(c.toString());
          if (events.join('').includes('event: api_post_event')) (req.destroy(), resolve());
        });
      });
      req.on('error', (err) => (events.join('').includes('api_post_event') ? resolve() : reject(err)));
      req.on('response', () => void request(`${e.url}/marathon/v2/apps`, e.ca, { method: 'POST', token: root, body: JSON.stringify({ id: '/sse/one', cmd: 'sleep 100', cpus: 0.1, mem: 16 }) }));
    });
    await got;
    t.pass('the event arrived through the open stream');

    const session = http2.connect(e.url, { ca: e.ca });
    t.teardown(() => session.close());
    const s = session.request({ ':path': '/marathon/v2/events', authorization: `Bearer ${root}` });
    const status = await new Promise<number>((r) => s.once('response', (h) => r(Number(h[':status']))));
    t.equal(status, 200, 'h2 stream opened');
    const seen = new Promise<void>((resolve) => {
      let buf = '';
      s.on('data', (c: Buffer) => ((buf += c.toString()), buf.includes('api_post_event') && resolve()));
    });
    await request(`${e.url}/marathon/v2/apps`, e.ca, { method: 'POST', token: root, body: JSON.stringify({ id: '/sse/two', cmd: 'sleep 100', cpus: 0.1, mem: 16 }) });
    await seen;
    t.pass('the event arrived on the HTTP/2 stream');
    s.close();
  });

  t.test('Location headers point into the entry point', async (t) => {
    const r = await request(`${e.url}/marathon/v2/apps`, e.ca, { method: 'POST', token: root, body: JSON.stringify({ id: '/loc/web', cmd: 'sleep 100', cpus: 0.1, mem: 16 }) });
    t.equal(r.status, 201);
    t.equal(r.headers.location, '/marathon/v2/apps/loc/web');
  });

  t.test('a 10 MB body streams through; over the limit is 413 before the upstream sees a request', async (t) => {
    const body = Buffer.alloc(10 << 20, 7);
    const r = await request(`${e.url}/service/echo/size`, e.ca, { method: 'POST', token: root, body, headers: { 'content-type': 'application/octet-stream' } });
    t.equal(r.status, 200);
    t.same(r.json(), { bytes: body.length, sha256: createHash('sha256').update(body).digest('hex'), path: '/size' }, 'every byte arrived, in order');
    const before = up.seen.requests;
    const big = await request(`${e.url}/service/echo/size`, e.ca, { method: 'POST', token: root, body: Buffer.alloc((16 << 20) + 1), headers: { 'content-type': 'application/octet-stream' } });
    t.equal(big.status, 413);
    t.match(big.json(), { code: 'body-too-large', message: /16777217 bytes exceeds the limit of 16777216/ });
    t.equal(up.seen.requests, before, 'the upstream never saw it');
  });

  t.test('a chunked body over the limit: 413, and the upstream never gets a complete request', async (t) => {
    const small = await startEntry(t, m, { upstreams: withService(m, up.target), limits: { maxBodyBytes: 1 << 20 }, authority: e.authority });
    const complete = up.seen.complete;
    const status = await new Promise<number>((resolve, reject) => {
      const req = https.request(`${small.url}/service/echo/size`, { method: 'POST', ca: small.ca, headers: { authorization: `token=${root}`, 'transfer-encoding': 'chunked' }, agent: false }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      let sent = 0;
      const pump = () => {
        while (sent < 4 << 20) {
          sent += 64 << 10;
          if (!req.write(Buffer.alloc(64 << 10))) return void req.once('drain', pump);
        }
        req.end();
      };
      pump();
    });
    t.equal(status, 413);
    t.equal(up.seen.complete, complete, 'no complete request reached the upstream');
  });

  t.test('a slow upstream: 504 naming the timeout', async (t) => {
    const r = await request(`${e.url}/service/echo/slow`, e.ca, { token: root });
    t.equal(r.status, 504);
    t.match(r.json(), { code: 'upstream-timeout', message: /no response within 400 ms/ });
  });

  t.test('a websocket is proxied (upgrade, then bytes both ways); without a token it is refused with 401', async (t) => {
    const upgrade = (token?: string) =>
      new Promise<{ status: number; socket?: Duplex }>((resolve, reject) => {
        const req = https.request(`${e.url}/service/echo/ws`, {
          ca: e.ca, agent: false,
          headers: { connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==', ...(token ? { authorization: `token=${token}` } : {}) },
        });
        req.on('upgrade', (res, socket) => resolve({ status: res.statusCode ?? 0, socket }));
        req.on('response', (res) => (res.resume(), resolve({ status: res.statusCode ?? 0 })));
        req.on('error', reject);
        req.end();
      });
    t.equal((await upgrade()).status, 401, 'no token: 401');
    const ok = await upgrade(root);
    t.equal(ok.status, 101);
    const echoed = new Promise<string>((r) => {
      let b = '';
      ok.socket!.on('data', (c: Buffer) => ((b += c.toString()), b.includes('ping-2') && r(b)));
    });
    ok.socket!.write('ping-1 ');
    ok.socket!.write('ping-2');
    t.equal(await echoed, 'ping-1 ping-2', 'bytes came back through the tunnel');
    ok.socket!.destroy();
  });

  t.test('/service/<app>/ without a running task: 503 naming why', async (t) => {
    const r = await request(`${e.url}/service/nosuch/`, e.ca, { token: root });
    t.equal(r.status, 503);
    t.match(r.json(), { message: /app \/nosuch does not exist/ });
    await request(`${e.url}/marathon/v2/apps`, e.ca, { method: 'POST', token: root, body: JSON.stringify({ id: '/ui/web', cmd: 'sleep 100', cpus: 0.1, mem: 16 }) });
    const none = await request(`${e.url}/service/ui%2Fweb/`, e.ca, { token: root });
    t.equal(none.status, 503);
    t.match(none.json(), { message: /app \/ui\/web has no running task/ }, 'a nested app id, encoded');
  });

  t.test('metrics', async (t) => {
    const text = await e.registry.metrics();
    t.match(text, /sextant_entry_requests_total\{route="marathon",code="200"\} \d+/);
    t.match(text, /sextant_entry_requests_total\{route="service",code="504"\} 1/);
    t.match(text, /sextant_entry_refusals_total\{reason="body-too-large"\} \d+/);
    t.match(text, /sextant_entry_upstream_seconds_bucket\{le="[\d.]+",route="marathon"\} \d+/);
  });
});

t.test('a follower: the entry point asks for the leader and never hands out its redirect', async (t) => {
  const m = await spawnMaster(t);
  // A follower's Mesos port: /master/redirect names the leader, anything else 307s to it (master/follower.ts).
  let mode: 'leader' | 'follower' = 'follower';
  const fol = http.createServer((req, res) => {
    const self = `${m.ip}:${(fol.address() as AddressInfo).port}`;
    const leader = mode === 'leader' ? self : `${m.ip}:${m.port}`;
    if (req.url === '/master/redirect') return void res.writeHead(307, { location: `//${leader}` }).end();
    if (mode === 'leader') return void res.writeHead(200, { 'content-type': 'application/json' }).end('{"stale":true}');
    res.writeHead(307, { location: `http://${leader}${req.url}` }).end();
  });
  await new Promise<void>((r) => fol.listen(0, m.ip, r));
  t.teardown(() => new Promise<void>((r) => (fol.closeAllConnections(), fol.close(() => r()))));
  const upstreams = new MasterUpstreams({ ip: m.ip, port: (fol.address() as AddressInfo).port, marathonPort: m.marathonPort, mesosDnsPort: m.mesosDnsPort, clock: systemClock, leaderCacheMs: 3_600_000 });
  // Behind the nginx front this master's own Mesos port (the hot reads go there first) is the follower's.
  const e = await startEntry(t, m, { upstreams, mesosPort: (fol.address() as AddressInfo).port });
  e.authority.user('root', 'superuser');
  const root = await e.authority.token('root');

  const r = await request(`${e.url}/mesos/master/state`, e.ca, { token: root });
  t.equal(r.status, 200, 'proxied to the leader, no 307');
  t.ok((r.json() as { id?: string }).id, 'the leader answered with its state');

  // This master believed itself leader (cached), then lost it: its 307 is followed by asking again.
  upstreams.leaderChanged();
  mode = 'leader';
  t.same((await request(`${e.url}/mesos/master/state`, e.ca, { token: root })).json(), { stale: true }, 'cached the (stale) leader');
  mode = 'follower';
  const again = await request(`${e.url}/mesos/master/state`, e.ca, { token: root });
  t.equal(again.status, 200, 'a GET is retried at the new leader');
  t.ok((again.json() as { id?: string }).id);
  upstreams.leaderChanged();
  mode = 'leader';
  // Node's leader cache primed with the (soon stale) leader: a read the nginx front leaves to Node (a stream's Accept).
  await request(`${e.url}/mesos/master/state`, e.ca, { token: root, headers: { accept: 'text/event-stream' } });
  mode = 'follower';
  const post = await request(`${e.url}/mesos/api/v1/agents/heartbeat`, e.ca, { method: 'POST', token: root, body: '{}' });
  t.equal(post.status, 503, 'a write is not replayed: 503 with Retry-After');
  t.equal(post.headers['retry-after'], '1');
  t.notOk(post.headers.location, 'no internal Location reaches the client');
});
