/**
 * The userspace proxy out of file descriptors: a proxy process started with a low RLIMIT_NOFILE
 * (prlimit) is filled with held connections until a client is not served. It must blame no
 * backend, stay up, and serve clients again once connections close; the native relay also says
 * why (accept or connect, EMFILE) and keeps the waiting client (its listener pauses until a
 * connection closes). Runs on the native relay and on net.Socket.
 */
import t from 'tap';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { eventually, freePort, loopbackBlock, spawnTracked, type Tracked } from '../../../test/lib/index.js';
import { nativeRelay } from '../native-relay.js';

const lb = loopbackBlock();
const CHILD = fileURLToPath(new URL('./fd-limit-child.ts', import.meta.url));
const NOFILE = 96;

/** The backend's greeting, or undefined when the client was closed (or not served within `ms`). */
function greeting(s: net.Socket, ms: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const done = (v: string | undefined) => {
      clearTimeout(timer);
      s.off('data', onData);
      s.off('close', onClose);
      resolve(v);
    };
    const onData = (d: Buffer) => done(d.toString().trim());
    const onClose = () => done(undefined);
    const timer = setTimeout(() => done(undefined), ms);
    s.on('data', onData);
    s.once('close', onClose);
    s.on('error', () => undefined);
  });
}

async function fill(t: Tap, relay: 'native' | 'net.Socket', host: string, extraFd: boolean) {
  const bport = await freePort(host);
  const backend = net.createServer((c) => {
    c.write('hello\n');
    c.on('error', () => undefined);
  });
  await new Promise<void>((res) => backend.listen(bport, host, res));
  t.teardown(() => backend.close());
  const port = await freePort(host);
  const env = { ...process.env, HOST: host, PORT: String(port), BACKEND_PORT: String(bport), SEXTANT_TCP_RELAY: relay === 'native' ? '1' : '0', EXTRA_FD: extraFd ? '1' : '0' };
  const child = spawnTracked(t, 'prlimit', [`--nofile=${NOFILE}:${NOFILE}`, '--', process.execPath, '--import', 'tsx', CHILD], { env });
  await child.waitFor(/^ready$/m, 30_000);
  const held: net.Socket[] = [];
  t.teardown(() => held.forEach((s) => s.destroy()));
  let pending: net.Socket | undefined;
  for (let i = 0; i < NOFILE && !pending; i++) {
    const s = net.connect(port, host);
    held.push(s);
    // Closed, or not served within 2 s: the proxy could not get a socket for it.
    if ((await greeting(s, 2000)) === undefined) pending = s;
  }
  return { child, held, pending, port };
}
type Tap = { teardown(fn: () => unknown): void };

async function servedAgain(port: number, host: string, pending: net.Socket | undefined, child: Tracked): Promise<boolean> {
  if (pending && !pending.destroyed && (await greeting(pending, 5000)) === 'hello') return true;
  // New clients until one is served. A proxy still out of descriptors may close them at once (libuv
  // does on net.Socket), so the budget is time (10 s), not a count of attempts.
  const served = async () => {
    if (child.child.exitCode !== null) throw new Error('the proxy exited');
    const s = net.connect(port, host);
    const g = await greeting(s, 1000);
    s.destroy();
    return g === 'hello';
  };
  return eventually(served, 10_000, 50, 'a client served').catch(() => false);
}

type Mode = { relay: 'native' | 'net.Socket'; extraFd: boolean };
const modes: Mode[] = [
  ...(nativeRelay() ? [{ relay: 'native', extraFd: false }, { relay: 'native', extraFd: true }] as Mode[] : []),
  { relay: 'net.Socket', extraFd: false },
];
const nativeOps = new Set<string>();
for (const [i, { relay, extraFd }] of modes.entries()) {
  t.test(`out of file descriptors (${relay} relay${extraFd ? ', one more fd taken' : ''}): no backend blamed, served again after closes`, async (t) => {
    const host = lb(10 + i);
    const { child, held, pending, port } = await fill(t, relay, host, extraFd);
    t.ok(pending, `a client was not served once ${held.length - 1} connections were held`);
    t.ok(held.length > 10, 'after more than 10 connections');
    let op = '';
    if (relay === 'native') {
      // (net.Socket cannot say: libuv closes clients it cannot accept without telling Node.)
      const m = await child.waitFor(/socket-error (accept|connect) (\S+)/, 5000);
      t.equal(m[2], 'EMFILE', `reported: ${m[0]}`);
      nativeOps.add((op = m[1]!));
    }
    t.notMatch(child.output(), /unreachable/, 'no backend blamed for it');
    // Close some: the proxy gets descriptors back and serves clients again.
    for (const s of held.splice(0, 4)) if (s !== pending) s.destroy();
    if (op === 'accept') {
      // The native relay left it in the accept queue and paused its listener: it is served now.
      t.equal(await greeting(pending!, 5000), 'hello', 'the client that waited is served');
    } else {
      t.ok(await servedAgain(port, host, pending, child), 'a client is served again');
    }
    t.equal(child.child.exitCode, null, 'the proxy is still running');
  });
}

if (nativeRelay()) {
  t.test('the native relay ran out at both steps: accept (listener paused) and the backend socket', async (t) => {
    t.same([...nativeOps].sort(), ['accept', 'connect']);
  });
}
