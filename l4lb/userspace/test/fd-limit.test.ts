/**
 * The userspace proxy out of file descriptors: a proxy process started with a low RLIMIT_NOFILE
 * (prlimit) is filled with held connections until a client is not served. It must blame no
 * backend, stay up, and serve clients again once connections close; the native relay also says
 * why (accept or connect, EMFILE) and keeps the waiting client (its listener pauses until a
 * connection closes). Runs on the native relay and on net.Socket.
 *
 * Which step runs out first (accept, or the backend socket) depends on the parity of the
 * descriptors the process holds, which Node's own lazily opened ones can change from run to run. So
 * the native relay is run again with one more descriptor taken each time, until both steps were
 * seen (at most MAX_EXTRA_FDS more); a relay that never runs out at one of them fails.
 */
import t from 'tap';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { eventually, freePort, loopbackBlock, spawnTracked, type Tracked } from '../../../test/lib/index.js';
import { nativeRelay } from '../native-relay.js';

const lb = loopbackBlock();
const CHILD = fileURLToPath(new URL('./fd-limit-child.ts', import.meta.url));
const NOFILE = 96;
const MAX_EXTRA_FDS = 5;

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

async function fill(t: Tap, relay: 'native' | 'net.Socket', host: string, extraFds: number) {
  const bport = await freePort(host);
  const backend = net.createServer((c) => {
    c.write('hello\n');
    c.on('error', () => undefined);
  });
  await new Promise<void>((res) => backend.listen(bport, host, res));
  t.teardown(() => backend.close());
  const port = await freePort(host);
  const env = { ...process.env, HOST: host, PORT: String(port), BACKEND_PORT: String(bport), SEXTANT_TCP_RELAY: relay === 'native' ? '1' : '0', EXTRA_FD: String(extraFds) };
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
/** What a run checks with: a subtest's teardown and assertions. */
type Checks = Tap & Pick<typeof t, 'ok' | 'equal' | 'notMatch'>;

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

/** One run: fill the proxy until a client is not served, check it, recover; the native relay's step that ran out ('' on net.Socket). */
async function outOfDescriptors(t: Checks, relay: 'native' | 'net.Socket', host: string, extraFds: number): Promise<string> {
  const { child, held, pending, port } = await fill(t, relay, host, extraFds);
  t.ok(pending, `a client was not served once ${held.length - 1} connections were held`);
  t.ok(held.length > 10, 'after more than 10 connections');
  let op = '';
  if (relay === 'native') {
    // (net.Socket cannot say: libuv closes clients it cannot accept without telling Node.)
    const m = await child.waitFor(/socket-error (accept|connect) (\S+)/, 5000);
    t.equal(m[2], 'EMFILE', `reported: ${m[0]}`);
    op = m[1]!;
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
  return op;
}

if (nativeRelay()) {
  t.test('native relay out of file descriptors, at both steps: accept (listener paused) and the backend socket', async (t) => {
    const ops: string[] = [];
    for (let extra = 0; extra <= MAX_EXTRA_FDS && new Set(ops).size < 2; extra++) {
      await t.test(`${extra} more descriptor(s) taken: no backend blamed, served again after closes`, async (t) => {
        ops.push(await outOfDescriptors(t, 'native', lb(10 + extra), extra));
      });
    }
    t.same([...new Set(ops)].sort(), ['accept', 'connect'], `both steps seen within ${MAX_EXTRA_FDS + 1} runs (in order: ${ops.join(', ')})`);
  });
}

t.test('net.Socket relay out of file descriptors: no backend blamed, served again after closes', async (t) => {
  await outOfDescriptors(t, 'net.Socket', lb(30), 0);
});
