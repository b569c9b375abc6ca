/**
 * The native TCP relay (native/tcprelay.c) behind a ServiceProxy, on loopback: many clients at
 * once, a backend that resets, a connect that times out and moves on, IPv6, a port in use, stop
 * with and without drain, and a throwing handler. relay.test.ts runs on it too (bytes intact
 * under back-pressure, half-close, refused backends); js-relay.test.ts runs that file on net.Socket.
 */
import t from 'tap';
import net from 'node:net';
import { freePort, loopbackBlock } from '../../../test/lib/index.js';
import { createLogger } from '../../../common/log.js';
import type { Service } from '../../driver.js';
import { ServiceProxy } from '../service.js';
import { nativeRelay, relayThreads } from '../native-relay.js';
import { hangingPort } from '../../test/hanging-port.js';

t.test('SEXTANT_TCP_RELAY_THREADS: 0 to 16, default 1, anything else named', async (t) => {
  t.equal(relayThreads(undefined), 1);
  t.equal(relayThreads(''), 1);
  t.equal(relayThreads('0'), 0);
  t.equal(relayThreads('16'), 16);
  for (const bad of ['17', '-1', '1.5', 'two']) t.throws(() => relayThreads(bad), new RegExp(`SEXTANT_TCP_RELAY_THREADS .*"${bad.replace('.', '\\.')}"`), bad);
});

const relay = nativeRelay();
if (!relay) {
  t.pass('native relay not built (or SEXTANT_TCP_RELAY=0): nothing to test here');
} else {
  const lb = loopbackBlock();
  const quiet = createLogger('native-relay-test');

  async function proxy(t: Tap, host: string, backends: Array<{ ip: string; port: number }>, extra: { unreachable?: string[]; connectTimeoutMs?: number } = {}) {
    const port = host.includes(':') ? await freeTcp6(host) : await freePort(host);
    const service: Service = { key: `tcp/${host}:${port}`, vip: host, port, protocol: 'tcp', backends: backends.map((b) => ({ ...b, weight: 1 })) };
    const p = new ServiceProxy(service, { host, port }, {
      balance: 'leastconn',
      log: quiet,
      connectTimeoutMs: extra.connectTimeoutMs ?? 2000,
      udpIdleMs: 1000,
      onUnreachable: (b) => extra.unreachable?.push(b),
    });
    await p.start();
    t.teardown(() => p.stop());
    return { p, host, port };
  }
  type Tap = { teardown(fn: () => unknown): void };

  const freeTcp6 = (host: string) =>
    new Promise<number>((res) => {
      const s = net.createServer().listen(0, host, () => {
        const { port } = s.address() as net.AddressInfo;
        s.close(() => res(port));
      });
    });

  /** Send `msg`, half-close, and collect the answer until the proxy closes; `error` if it was reset, `timeout` after 5 s. */
  function exchange(to: { host: string; port: number }, msg: string): Promise<string> {
    return new Promise((res) => {
      const c = net.connect({ host: to.host, port: to.port, allowHalfOpen: true }, () => c.end(msg));
      const timer = setTimeout(() => (c.destroy(), res(`timeout (got ${JSON.stringify(s)})`)), 5000);
      let s = '';
      c.on('data', (d) => (s += d.toString()));
      c.on('end', () => (clearTimeout(timer), res(s)));
      c.on('error', (e) => (clearTimeout(timer), res(`error ${(e as NodeJS.ErrnoException).code}`)));
    });
  }

  /** An echo server that answers after the client's FIN (so the proxy must relay half-close). */
  async function echoAfterEnd(t: Tap, ip: string): Promise<{ ip: string; port: number }> {
    const server = net.createServer({ allowHalfOpen: true }, (c) => {
      let s = '';
      c.on('data', (d) => (s += d.toString()));
      c.on('end', () => c.end(`echo:${s}`));
    });
    await new Promise<void>((r) => server.listen(0, ip, r));
    t.teardown(() => server.close());
    return { ip, port: (server.address() as net.AddressInfo).port };
  }

  const settled = async (want: number) => {
    for (let i = 0; i < 200 && relay.stats().connections !== want; i++) await new Promise((r) => setTimeout(r, 5));
    return relay.stats().connections;
  };

  t.test('300 clients at once, each answered after its half-close; nothing stays open', async (t) => {
    const base = relay.stats().connections;
    const b1 = await echoAfterEnd(t, lb(20));
    const b2 = await echoAfterEnd(t, lb(21));
    const { p, host, port } = await proxy(t, lb(10), [b1, b2]);
    const replies = await Promise.all(Array.from({ length: 300 }, (_, i) => exchange({ host, port }, `m${i}`)));
    t.same(replies, Array.from({ length: 300 }, (_, i) => `echo:m${i}`), 'every client got its own answer');
    t.equal(await settled(base), base, 'every relayed connection closed once both sides ended');
    t.same([...p.balancer.open], [], 'no backend counts an open connection');
  });

  t.test('a backend that resets ends the client connection and is counted down', async (t) => {
    const base = relay.stats().connections;
    const server = net.createServer((c) => c.once('data', () => c.resetAndDestroy()));
    await new Promise<void>((r) => server.listen(0, lb(22), r));
    t.teardown(() => server.close());
    const { p, host, port } = await proxy(t, lb(11), [{ ip: lb(22), port: (server.address() as net.AddressInfo).port }]);
    const got = await new Promise<string>((res) => {
      const c = net.connect({ host, port }, () => c.write('hi'));
      c.on('error', (e) => res(`error ${(e as NodeJS.ErrnoException).code}`));
      c.on('close', () => res('closed'));
    });
    t.ok(got === 'closed' || got.startsWith('error'), `client connection ended (${got})`);
    t.equal(await settled(base), base, 'relay closed both sockets');
    t.same([...p.balancer.open], [], 'backend counted down');
  });

  t.test('a connect that hangs times out and the next backend gets the client', async (t) => {
    const ip = lb(23);
    const hangPort = await hangingPort(t, ip);
    const live = await echoAfterEnd(t, lb(24));
    const unreachable: string[] = [];
    const { host, port } = await proxy(t, lb(12), [{ ip, port: hangPort }, live], { unreachable, connectTimeoutMs: 200 });
    const replies: string[] = [];
    for (let i = 0; i < 3; i++) replies.push(await exchange({ host, port }, `t${i}`));
    t.same(replies, ['echo:t0', 'echo:t1', 'echo:t2'], 'answered by the live backend, first bytes intact');
    t.ok(unreachable.includes(`${ip}:${hangPort}`), `the hanging backend was reported (${unreachable.join(', ')})`);
  });

  t.test('IPv6 listener and backend', async (t) => {
    const b = await echoAfterEnd(t, '::1');
    const { host, port } = await proxy(t, '::1', [b]);
    t.equal(await exchange({ host, port }, 'six'), 'echo:six');
  });

  t.test('a port in use is refused with the address named', async (t) => {
    const host = lb(13);
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(0, host, r));
    t.teardown(() => blocker.close());
    const port = (blocker.address() as net.AddressInfo).port;
    const service: Service = { key: `tcp/${host}:${port}`, vip: host, port, protocol: 'tcp', backends: [{ ip: lb(25), port: 1, weight: 1 }] };
    const p = new ServiceProxy(service, { host, port }, { balance: 'leastconn', log: quiet, connectTimeoutMs: 1000, udpIdleMs: 1000, onUnreachable: () => undefined });
    await t.rejects(p.start(), new RegExp(`listen ${host.replace(/\./g, '\\.')}:${port}: .*address already in use`, 'i'));
    t.equal(p.listening, false);
  });

  t.test('stop with drain keeps an open connection; stop without closes it', async (t) => {
    const server = net.createServer((c) => c.on('data', (d) => c.write(d)));
    await new Promise<void>((r) => server.listen(0, lb(26), r));
    t.teardown(() => server.close());
    const backend = { ip: lb(26), port: (server.address() as net.AddressInfo).port };
    const { p, host, port } = await proxy(t, lb(14), [backend]);
    const c = net.connect({ host, port });
    const echo = (m: string) => new Promise<string>((res) => (c.once('data', (b) => res(b.toString())), c.write(m)));
    t.equal(await echo('a'), 'a');
    await p.stop(true);
    t.equal(await echo('b'), 'b', 'drained: the open connection still relays');
    await t.rejects(new Promise<void>((res, rej) => net.connect({ host, port }, () => res()).on('error', rej)), 'no new connections');
    const closed = new Promise((r) => c.on('close', r));
    await p.stop(false);
    await closed;
    t.pass('stop without drain closed it');
  });

  t.test('a handler that throws costs only its client; the relay carries on', async (t) => {
    const b = await echoAfterEnd(t, lb(27));
    const errors: unknown[] = [];
    let throwOnce = true;
    const srv = relay.register({
      accepted: (id) => {
        if (throwOnce) {
          throwOnce = false;
          throw new Error('boom');
        }
        relay.dial(id, b.ip, b.port);
      },
      connected: () => undefined,
      connectFailed: (id) => relay.drop(id),
      closed: () => undefined,
      acceptError: () => undefined,
      handlerError: (e) => errors.push(e),
    });
    const host = lb(15);
    const l = relay.listen(srv, host, 0);
    t.teardown(() => (relay.unlisten(l), relay.unregister(srv)));
    const port = relay.port(l);
    const first = await exchange({ host, port }, 'x');
    t.ok(first === '' || first.startsWith('error'), `the first client was dropped (${JSON.stringify(first)})`);
    t.match(String(errors[0]), /boom/, 'the error went to handlerError');
    t.equal(await exchange({ host, port }, 'y'), 'echo:y', 'the next client is relayed');
  });
}
