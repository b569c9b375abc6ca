/**
 * The pieces `sextant up` checks with before it starts anything: its options (up-args.ts), the
 * addresses it plans to bind and the bind check against real sockets (up-preflight.ts), and the
 * work-dir lock against real processes (up-lock.ts).
 */
import t from 'tap';
import net from 'node:net';
import dgram from 'node:dgram';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseUpArgs, readUpArgs, type UpOptions } from '../up-args.js';
import { checkBinds, plannedBinds, preflight } from '../up-preflight.js';
import { acquireLock, LockHeldError, lockOwner } from '../up-lock.js';
import { processStartTime } from '../../agent/index.js';
import { freePort, loopbackBlock, uniqueName } from '../../test/lib/index.js';

const env = {};

t.test('options', async (t) => {
  const o = parseUpArgs([], env);
  t.match(o, { agents: 2, example: true, netns: false, masterPort: 5050, marathonPort: 8080, agentPort: 5051, ipBase: '127.0.0', portBase: 31000, mesosDnsPort: 61053, mesosDnsHttpPort: 8123, controlPort: 5060 });
  t.same(o.masterServices, ['acs', 'overlay', 'l4lb', 'netmetrics', 'mesos-dns', 'control', 'dashboard'], 'the identity service (issue 30) and the network metrics aggregator (issue 28) run by default');
  t.equal(o.statusFile, undefined);
  const e = parseUpArgs(['--agents', '3', '--no-example', '--netns', '--status-file', '/tmp/s.json', '--mesos-dns-port', '5353'], { SEXTANT_CONTROL_PORT: '6000', SEXTANT_MASTER_SERVICES: 'control' });
  t.match(e, { agents: 3, example: false, netns: true, statusFile: '/tmp/s.json', mesosDnsPort: 5353, controlPort: 6000, masterServices: ['control'] });
  t.equal(parseUpArgs([], { SEXTANT_MESOS_DNS_PORT: '7053' }).mesosDnsPort, 7053, 'Mesos-DNS port from the environment');

  const help = readUpArgs(['--help'], env);
  t.equal(help.kind, 'help');
  t.match(help.kind === 'help' ? help.text : '', /^Usage: sextant up/);
  t.equal(readUpArgs(['-h'], env).kind, 'help');

  const bad: [string[], NodeJS.ProcessEnv, RegExp][] = [
    [['--agents', '0'], env, /^--agents: '0' must be an integer in \[1, 200\]$/],
    [['--agents', 'two'], env, /--agents/],
    [['--master-port', '70000'], env, /--master-port/],
    [['--ip-base', '127.0'], env, /--ip-base/],
    [['--ip-base', '127.0.300'], env, /--ip-base/],
    [['--port-base', '65000'], env, /--port-base/],
    [['--bogus'], env, /unknown option '--bogus'/],
    [['extra'], env, /too many arguments|unexpected/],
    [[], { SEXTANT_CONTROL_PORT: 'x' }, /SEXTANT_CONTROL_PORT/],
  ];
  for (const [argv, e2, re] of bad) t.throws(() => parseUpArgs(argv, e2), { name: 'ConfigError', message: re }, `${argv.join(' ') || JSON.stringify(e2)}`);
});

t.test('plannedBinds', async (t) => {
  const o = parseUpArgs(['--ip-base', '127.9.9', '--agents', '2'], env);
  t.same(
    plannedBinds(o).map((b) => `${b.proto} ${b.host}:${b.port} ${b.what}`),
    [
      'tcp 127.9.9.1:5050 master Mesos API',
      'tcp 127.9.9.1:8080 Marathon',
      'tcp 127.9.9.1:8443 entry point HTTPS (--admin-port)',
      'tcp 127.9.9.1:5060 control plane gRPC (SEXTANT_CONTROL_PORT)',
      'udp 127.9.9.1:61053 Mesos-DNS DNS',
      'tcp 127.9.9.1:61053 Mesos-DNS DNS',
      'tcp 127.9.9.1:8123 Mesos-DNS HTTP (SEXTANT_MESOS_DNS_HTTP_PORT)',
      'tcp 127.9.9.2:5051 agent 1 API',
      'tcp 127.9.9.3:5051 agent 2 API',
    ],
  );
  const few = parseUpArgs(['--ip-base', '127.9.9', '--agents', '1'], { SEXTANT_MASTER_SERVICES: 'overlay' });
  t.equal(plannedBinds(few).length, 4, 'only the services that will run (and the entry point)');
  t.equal(plannedBinds(parseUpArgs(['--ip-base', '127.9.9', '--agents', '1', '--no-admin'], { SEXTANT_MASTER_SERVICES: 'overlay' })).length, 3, '--no-admin: no entry point');
  const ns = parseUpArgs(['--netns'], env);
  t.same(plannedBinds(ns).map((b) => `${b.host}:${b.port}`), ['127.0.0.1:5050', '127.0.0.1:8080', '127.0.0.1:8443'], '--netns: only the ports forwarded into the host namespace');
  const dup = parseUpArgs(['--ip-base', '127.9.9', '--marathon-port', '5050'], env);
  t.match(await checkBinds(plannedBinds(dup)), [/127\.9\.9\.1:5050\/tcp would be bound twice: by the master Mesos API and the Marathon/]);
});

function optionsOn(ipBase: string, ports: { master: number; marathon: number; agent: number; dns: number; control: number; http: number }, workDir: string): UpOptions {
  return parseUpArgs(['--ip-base', ipBase, '--agents', '1', '--work-dir', workDir, '--master-port', String(ports.master), '--marathon-port', String(ports.marathon), '--agent-port', String(ports.agent), '--mesos-dns-port', String(ports.dns)], {
    SEXTANT_CONTROL_PORT: String(ports.control),
    SEXTANT_MESOS_DNS_HTTP_PORT: String(ports.http),
  });
}

t.test('preflight against real sockets and a real lock holder', async (t) => {
  const block = loopbackBlock();
  const ipBase = block(1).split('.').slice(0, 3).join('.');
  const host = block(1);
  const used = new Set<number>();
  const port = async (h: string) => {
    for (;;) {
      const p = await freePort(h);
      if (!used.has(p)) return used.add(p), p;
    }
  };
  const ports = { master: await port(host), marathon: await port(host), agent: await port(block(2)), dns: await port(host), control: await port(host), http: await port(host) };
  const workDir = mkdtempSync(join(tmpdir(), `${uniqueName('pf')}-`));
  t.teardown(() => rmSync(workDir, { recursive: true, force: true }));
  const o = optionsOn(ipBase, ports, workDir);
  t.same(await preflight(o), [], 'all free: no problem');
  t.same(await preflight(o), [], 'and the check left nothing bound');

  const tcp = net.createServer();
  await new Promise<void>((r) => tcp.listen(ports.marathon, host, r));
  t.teardown(() => new Promise<void>((r) => tcp.close(() => r())));
  const udp = dgram.createSocket('udp4');
  await new Promise<void>((r) => udp.bind(ports.dns, host, r));
  t.teardown(() => new Promise<void>((r) => udp.close(() => r())));
  const problems = await preflight(o);
  t.equal(problems.length, 2, 'two busy addresses');
  t.match(problems[0], `${host}:${ports.marathon}/tcp (Marathon) is in use by pid ${process.pid} (`);
  t.match(problems[1], `${host}:${ports.dns}/udp (Mesos-DNS DNS) is in use by pid ${process.pid} (`);

  const notMine = optionsOn('10.255.254', ports, workDir);
  t.match(await preflight(notMine), [/10\.255\.254\.1:\d+\/tcp \(master Mesos API\): 10\.255\.254\.1 is not an address of this host/], 'an address not on this host is named');

  // The work dir of a running `up`: a real process holds the lock.
  const holder = spawn('sleep', ['60'], { stdio: 'ignore' });
  t.teardown(() => void holder.kill('SIGKILL'));
  await new Promise((r) => holder.once('spawn', r));
  const lock = join(workDir, 'up.lock');
  writeFileSync(lock, JSON.stringify({ pid: holder.pid, startTime: processStartTime(holder.pid!) }));
  t.equal(lockOwner(lock)?.pid, holder.pid, 'lockOwner names the live holder');
  t.throws(() => acquireLock(lock), LockHeldError, 'the lock cannot be taken');
  t.match((await preflight(optionsOn(`${ipBase}`, { ...ports, marathon: await port(host), dns: await port(host) }, workDir)))[0], `--work-dir ${workDir} is in use by a running sextant up, pid ${holder.pid} (sleep 60)`);

  // A reused pid (another start time) or a dead one is stale: taken over, and released.
  writeFileSync(lock, JSON.stringify({ pid: holder.pid, startTime: '1' }));
  t.equal(lockOwner(lock), undefined, 'a pid with another start time is not the holder');
  holder.kill('SIGKILL');
  await new Promise((r) => holder.once('exit', r));
  writeFileSync(lock, JSON.stringify({ pid: holder.pid, startTime: '1' }));
  const release = acquireLock(lock);
  t.equal(JSON.parse(readFileSync(lock, 'utf8')).pid, process.pid, 'a stale lock is taken over');
  release();
  t.notOk(existsSync(lock), 'release removes it');
});

t.test('preflight: the status file', async (t) => {
  const block = loopbackBlock();
  const ipBase = block(1).split('.').slice(0, 3).join('.');
  const dir = mkdtempSync(join(tmpdir(), `${uniqueName('pfs')}-`));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'status.json');
  const o = { ...parseUpArgs(['--ip-base', ipBase, '--agents', '1', '--work-dir', join(dir, 'w'), '--status-file', file], env), masterServices: [] };
  o.masterPort = await freePort(block(1));
  do o.marathonPort = await freePort(block(1));
  while (o.marathonPort === o.masterPort);
  o.agentPort = await freePort(block(2));
  const statusProblems = async () => (await preflight(o)).filter((p) => p.startsWith('--status-file'));

  t.same(await statusProblems(), [], 'no file: fine');
  writeFileSync(file, 'precious data\n');
  t.match(await statusProblems(), [`--status-file ${file} exists and is not a sextant up status file; not overwriting it`], 'another file is never overwritten');

  const holder = spawn('sleep', ['60'], { stdio: 'ignore' });
  t.teardown(() => void holder.kill('SIGKILL'));
  await new Promise((r) => holder.once('spawn', r));
  const status = (state: string) => JSON.stringify({ state, pid: holder.pid, startTime: processStartTime(holder.pid!), workDir: dir, masters: [], agents: [] });
  writeFileSync(file, status('up'));
  t.match(await statusProblems(), [`--status-file ${file} is kept by a running sextant up, pid ${holder.pid} (sleep 60)`], 'one a running up keeps is refused');
  writeFileSync(file, status('stopped'));
  t.same(await statusProblems(), [], 'a stopped one is replaced');
  holder.kill('SIGKILL');
  await new Promise((r) => holder.once('exit', r));
  writeFileSync(file, status('up'));
  t.same(await statusProblems(), [], 'one whose up is gone is replaced');
});

t.test('--masters: 1, 3 or 5; with 3 each master address gets its ZooKeeper ports and the agents come after', async (t) => {
  t.throws(() => parseUpArgs(['--masters', '2'], env), /--masters.*1, 3 or 5/, 'an even ensemble is refused');
  const n = parseUpArgs(['--ip-base', '127.9.9', '--masters', '3', '--netns'], env);
  t.same(
    plannedBinds(n).map((b) => `${b.proto} ${b.host}:${b.port}`),
    [1, 2, 3].flatMap((k) => [`tcp 127.9.9.${k}:5050`, `tcp 127.9.9.${k}:8080`, `tcp 127.9.9.${k}:2181`, `tcp 127.9.9.${k}:8443`]),
    'with --netns: only the forwarded Mesos, Marathon, ZooKeeper client and entry-point ports of each master, on <ip-base>.k',
  );
  t.equal(parseUpArgs([], env).masters, 1, 'one master by default');
  const o = parseUpArgs(['--ip-base', '127.9.9', '--agents', '1', '--masters', '3'], env);
  t.same(o.zkPorts, { client: 2181, peer: 2888, election: 3888 });
  t.equal(o.adminPort, 8443, 'an entry point on every master');
  t.equal(o.insecureDev, false, 'mutual TLS by default with several masters too');
  t.equal(parseUpArgs(['--masters', '3', '--insecure-dev'], env).insecureDev, true, '--insecure-dev when asked');
  const binds = plannedBinds(o).map((b) => `${b.proto} ${b.host}:${b.port} ${b.what}`);
  for (const k of [1, 2, 3]) {
    t.ok(binds.includes(`tcp 127.9.9.${k}:5050 master ${k} Mesos API`), `master ${k} on 127.9.9.${k}`);
    t.ok(binds.includes(`tcp 127.9.9.${k}:8443 master ${k} entry point HTTPS (--admin-port)`), `master ${k}'s entry point on 127.9.9.${k}`);
    t.ok(binds.includes(`tcp 127.9.9.${k}:2181 ZooKeeper server ${k} client port (--zk-port)`), `ZooKeeper server ${k} on 127.9.9.${k}`);
    t.ok(binds.includes(`tcp 127.9.9.${k}:3888 ZooKeeper server ${k} election port`));
  }
  t.ok(binds.includes('tcp 127.9.9.4:5051 agent 1 API'), 'agent 1 after the masters');
});
