/**
 * Issue 30 hardening, the nginx front's workers under a root master (real nginx, real masters):
 *  - they run as their own system account, `sextant-front` (created when missing: no login shell, no
 *    home, a group of its own with no members), and only that group may reach Node's socket: a process
 *    running as nobody:nogroup is refused, the same process in the workers' group connects (the control);
 *    reads and writes still work. Without the account and no way to make it: nobody, logged as an error.
 *  - a front killed by SIGKILL leaves its runtime directory; the next front's start removes it (and an
 *    older front's, with a dead socket and no owner file), logged, and keeps a live front's, one still
 *    starting (owner alive, no socket yet) and directories not ours by name or layout.
 * Every runtime directory here is under a root of the test's own (SEXTANT_RUN_ROOT / runRoot), never /run/sextant.
 */
import t from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { createLogger, setLogSink } from '../../common/index.js';
import { eventually, freePort, loopbackBlock, uniqueName, type Teardownable } from '../../test/lib/index.js';
import { FRONT_USER, NGINX, NginxFront, frontRunDir, frontRunRoot, frontWorkerUser } from '../index.js';
import { grant, request, spawnMaster, startEntry, tmpDir } from './lib.js';

t.setTimeout(240_000);
if (!fs.existsSync(NGINX)) throw new Error(`${NGINX} is missing: install nginx-light and libnginx-mod-http-lua (scripts/debian-packages.txt)`);
if (process.getuid?.() !== 0) throw new Error('this test needs root: it checks the account nginx started by root runs its workers as');

const ROOT_GROUP = 'dcos:service:marathon:marathon:services:/';
const NOBODY = 65534;

const getent = (db: string, key: string) => {
  const r = spawnSync('getent', [db, key], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim().split(':') : undefined;
};
const ids = (pid: number, field: 'Uid' | 'Gid') => Number(new RegExp(`^${field}:\\s+(\\d+)\\s+(\\d+)`, 'm').exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))![2]);
const childrenOf = (pid: number) => fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);

/** Connect to a unix socket as uid:gid (no supplementary groups): `connected` or the error code. */
function connectAs(socket: string, uid: number, gid: number): Promise<string> {
  const code = "const s=require('net').connect(process.env.SOCK);s.on('connect',()=>{console.log('connected');process.exit(0)});s.on('error',e=>{console.log(e.code);process.exit(0)})";
  return new Promise((resolve, reject) => {
    // setpriv drops to uid:gid with no supplementary groups; env -i: no NODE_OPTIONS from tap's process tracking.
    const p = spawn('setpriv', ['--reuid', String(uid), '--regid', String(gid), '--clear-groups', 'env', '-i', `SOCK=${socket}`, process.execPath, '-e', code], { cwd: '/', stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (b: Buffer) => (out += b.toString()));
    p.stderr.on('data', (b: Buffer) => (out += b.toString()));
    p.once('error', reject);
    p.once('close', () => resolve(out.trim()));
  });
}

/** Log lines written while `fn` runs. */
async function capture<T>(fn: () => Promise<T>): Promise<[T, Record<string, unknown>[]]> {
  const lines: Record<string, unknown>[] = [];
  setLogSink({ write: (l) => void lines.push(JSON.parse(l)) });
  try {
    return [await fn(), lines];
  } finally {
    setLogSink({ write: (l) => process.stderr.write(l) });
  }
}

t.test('workers under their own account: nobody:nogroup cannot reach Node\'s socket', async (t) => {
  const m = await spawnMaster(t);
  const e = await startEntry(t, m, { front: 'nginx' });
  const front = e.entry as NginxFront;
  const pw = getent('passwd', FRONT_USER);
  t.ok(pw, `the account ${FRONT_USER} exists (made at the front's start when missing)`);
  const [uid, gid] = [Number(pw![2]), Number(pw![3])];
  t.ok(uid > 0 && uid < 1000, `a system uid (${uid})`);
  t.equal(pw![5], '/nonexistent', 'no home');
  t.equal(pw![6], '/usr/sbin/nologin', 'no login shell');
  const gr = getent('group', String(gid));
  t.equal(gr?.[0], FRONT_USER, 'its own group');
  t.equal(gr?.[3], '', 'with no other members');
  t.match(front.workerUser, { user: FRONT_USER, group: FRONT_USER, uid, gid });

  const workers = childrenOf(front.pid!).filter((p) => /nginx: worker/.test(fs.readFileSync(`/proc/${p}/cmdline`, 'latin1')));
  t.ok(workers.length >= 1, `workers: ${workers.join(' ')}`);
  for (const p of workers) {
    t.equal(ids(p, 'Uid'), uid, `worker ${p} runs as ${FRONT_USER}`);
    t.equal(ids(p, 'Gid'), gid, `worker ${p}: group ${FRONT_USER}`);
  }
  const sock = path.join(front.runDir, 'entry.sock');
  t.equal(fs.statSync(front.runDir).gid, gid, 'the runtime directory: group sextant-front');
  t.equal(fs.statSync(sock).gid, gid, 'Node\'s socket: group sextant-front');
  t.equal(await connectAs(sock, NOBODY, NOBODY), 'EACCES', 'a process as nobody:nogroup cannot connect to Node\'s socket');
  t.equal(await connectAs(sock, NOBODY, gid), 'connected', 'control: the same process in the workers\' group connects');

  e.authority.user('bob', [grant(ROOT_GROUP, 'full')]);
  const tok = await e.authority.token('bob');
  t.equal((await request(`${e.url}/marathon/v2/apps`, e.ca, { token: tok })).status, 200, 'a read through the front');
  const post = await request(`${e.url}/marathon/v2/apps`, e.ca, { method: 'POST', token: tok, body: JSON.stringify({ id: '/acct/one', cmd: 'sleep 100', cpus: 0.1, mem: 16 }) });
  t.equal(post.status, 201, 'a write through the front');
});

t.test('the account is created when missing; nobody when it cannot be, logged', async (t) => {
  const name = uniqueName('f');
  t.notOk(getent('passwd', name), `${name} is not a user yet`);
  t.teardown(() => void spawnSync('userdel', [name]));
  const [made, lines] = await capture(async () => frontWorkerUser(createLogger('acct-test'), { isRoot: true, name }));
  const pw = getent('passwd', name);
  t.ok(pw, `${name} was created`);
  t.match(made, { user: name, group: name, uid: Number(pw![2]), gid: Number(pw![3]) });
  t.ok(Number(pw![2]) < 1000, 'a system account');
  t.equal(pw![6], '/usr/sbin/nologin');
  t.ok(lines.some((l) => l.event === 'entry_front_account_created' && l.user === name), 'its creation is logged');

  const [again, quiet] = await capture(async () => frontWorkerUser(createLogger('acct-test'), { isRoot: true, name, useradd: '/bin/false' }));
  t.same(again, made, 'there: used as it is (useradd not run)');
  t.notOk(quiet.some((l) => String(l.event).startsWith('entry_front_account')), 'nothing logged');

  const missing = uniqueName('f');
  const [fallback, loud] = await capture(async () => frontWorkerUser(createLogger('acct-test'), { isRoot: true, name: missing, useradd: '/bin/false' }));
  t.match(fallback, { user: 'nobody', uid: NOBODY }, 'the account cannot be made: nobody');
  t.ok(loud.some((l) => l.event === 'entry_front_account_missing' && l.level === 'error' && l.user === missing), 'logged as an error');
  t.notOk(getent('passwd', missing), 'and nothing was created');
  t.equal(frontWorkerUser(createLogger('acct-test'), { isRoot: false }), undefined, 'not root: no worker user');
});

t.test('the runtime root: SEXTANT_RUN_ROOT, an absolute path, else /run/sextant', async (t) => {
  t.equal(frontRunRoot({ SEXTANT_RUN_ROOT: '/tmp/x/' }), '/tmp/x');
  t.equal(frontRunRoot({}), '/run/sextant');
  t.throws(() => frontRunRoot({ SEXTANT_RUN_ROOT: 'run/here' }), /SEXTANT_RUN_ROOT.*'run\/here' is not an absolute path/, 'a relative path: an error naming the variable');
  t.match(frontRunDir('/var/lib/sextant/entry-front', '/tmp/x'), /^\/tmp\/x\/front-[0-9a-f]{12}$/);
});

/** A unix socket at each path with no process behind it (its listener killed by SIGKILL). */
async function deadSockets(t: Teardownable, paths: string[]): Promise<void> {
  const code = "const net=require('net');let n=0;for(const p of process.env.SOCKS.split('\\n'))net.createServer().listen(p,()=>{if(++n===process.env.SOCKS.split('\\n').length)console.log('ready')})";
  const p = spawn(process.execPath, ['-e', code], { env: { SOCKS: paths.join('\n') }, stdio: ['ignore', 'pipe', 'inherit'] });
  t.teardown(() => void (p.exitCode === null && p.signalCode === null && p.kill('SIGKILL')));
  await new Promise<void>((resolve, reject) => {
    p.stdout.on('data', (b: Buffer) => /ready/.test(b.toString()) && resolve());
    p.once('exit', () => reject(new Error('the socket holder exited before listening')));
  });
  const gone = new Promise((r) => p.once('exit', r));
  p.kill('SIGKILL');
  await gone;
}

t.test('a front killed by SIGKILL: its directory is removed at the next front\'s start, a live one kept', async (t) => {
  const root = tmpDir(t, 'runroot');
  const ip = loopbackBlock();
  // A live front (another master's), and a master with a front killed by SIGKILL (nginx follows it: pdeathsig).
  const m = await spawnMaster(t, [], {}, ip(1));
  const live = await startEntry(t, m, { front: 'nginx', runRoot: root });
  const liveDir = (live.entry as NginxFront).runDir;
  const victim = await spawnMaster(t, ['--admin-port', String(await freePort(ip(2)))], { SEXTANT_RUN_ROOT: root }, ip(2));
  const victimDir = frontRunDir(path.join(victim.workDir, 'entry-front'), root);
  await eventually(() => fs.existsSync(path.join(victimDir, 'entry.sock')), 30_000, 100, 'the killed master\'s front to be up');
  const gone = victim.proc.exited;
  process.kill(victim.proc.pid, 'SIGKILL');
  await gone;
  t.ok(fs.existsSync(victimDir), `left behind by the kill: ${victimDir}`);

  // A front of the code before owner files, killed: a dead socket, no owner.
  const legacy = path.join(root, 'front-0123456789ab');
  // A front starting: its owner (this process) alive, no socket yet.
  const starting = path.join(root, 'front-a1a1a1a1a1a1');
  // Not ours: by layout (neither owner nor socket), by name (a dead socket all the same).
  const notOurLayout = path.join(root, 'front-b2b2b2b2b2b2');
  const notOurName = path.join(root, 'front-other');
  for (const d of [legacy, starting, notOurLayout, notOurName]) fs.mkdirSync(d);
  await deadSockets(t, [path.join(legacy, 'entry.sock'), path.join(notOurName, 'entry.sock')]);
  const stat = fs.readFileSync('/proc/self/stat', 'utf8');
  fs.writeFileSync(path.join(starting, 'owner'), `${process.pid} ${stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]}\n`);
  fs.writeFileSync(path.join(notOurLayout, 'notes'), 'x');

  const [next, lines] = await capture(() => startEntry(t, m, { front: 'nginx', runRoot: root }));
  const nextDir = (next.entry as NginxFront).runDir;
  t.notOk(fs.existsSync(victimDir), 'the killed front\'s directory is removed');
  t.notOk(fs.existsSync(legacy), 'the older front\'s (dead socket, no owner file) too');
  const swept = lines.filter((l) => l.event === 'entry_front_swept').map((l) => l.dir);
  t.same(swept.sort(), [legacy, victimDir].sort(), 'each logged');
  t.ok(fs.existsSync(path.join(liveDir, 'entry.sock')), 'the live front\'s directory is kept');
  t.ok(fs.existsSync(starting), 'a starting front\'s (owner alive) is kept');
  t.ok(fs.existsSync(path.join(notOurLayout, 'notes')), 'a directory not ours by layout is kept');
  t.ok(fs.existsSync(path.join(notOurName, 'entry.sock')), 'a directory not ours by name is kept');
  t.ok(fs.existsSync(nextDir), 'the new front\'s own is there');
  live.authority.user('root', 'superuser');
  const r = await request(`${live.url}/marathon/v2/apps`, live.ca, { token: await live.authority.token('root') });
  t.equal(r.status, 200, 'the live front still serves');
  await next.entry.stop();
  t.notOk(fs.existsSync(nextDir), 'a clean stop removes its own');
});
