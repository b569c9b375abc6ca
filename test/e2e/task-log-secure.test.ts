/**
 * Issue 30 leftovers: `sextant task log` against a secure `sextant up` (mutual TLS between the
 * components, the HTTPS entry point, the identity service), as its status file describes it: with
 * the operator's `cli` certificate straight to the agent, and with the superuser token through the
 * entry point (`/mesos/master/state`, then the master's `/agent/<id>/files/read`, which calls the
 * agent over mutual TLS). `--follow` shows new lines and ends with 0 on Ctrl-C; a call without a
 * token, or without a certificate, is refused with a message naming why. The up summary suggests
 * `task log` again, with the environment that makes it work.
 */
import t from 'tap';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventually, spawnTracked, uniqueName } from '../lib/index.js';
import { sextantJs } from './backbone-lib.js';
import { spawnUp, upArgs, upPlan, upWorkDir } from './up-lib.js';

t.setTimeout(240_000);

interface Run {
  code: number;
  out: string;
  err: string;
}

interface Status {
  entry: string;
  ca: string;
  token: string;
  cli_cert: string;
  cli_key: string;
  masters: { mesos: string; marathon: string }[];
}

const TICKER = { id: '/ticker', cmd: 'i=0; while true; do echo tick $i; echo err $i >&2; i=$((i+1)); sleep 0.2; done', instances: 1, cpus: 0.1, mem: 32 };

t.test('sextant task log in a secure cluster: the cli certificate, or the token through the entry point', async (t) => {
  const plan = await upPlan();
  const dir = upWorkDir(t, 'tlog');
  const file = join(dir, 'status.json');
  const up = spawnUp(t, upArgs(plan, dir, 1, ['--status-file', file], { secure: true }), dir);
  await up.waitFor(/sextant up: (ready|not ready)/, 120_000);
  const s = JSON.parse(readFileSync(file, 'utf8')) as Status;
  t.ok(s.entry && s.token && s.cli_cert, 'the status file names the entry point, a token and the cli certificate');

  const home = mkdtempSync(join(tmpdir(), `${uniqueName('home')}-`));
  t.teardown(() => rmSync(home, { recursive: true, force: true }));
  const bare: NodeJS.ProcessEnv = { ...process.env, HOME: home, XDG_CONFIG_HOME: join(home, '.config') };
  for (const k of ['SEXTANT_URL', 'SEXTANT_TOKEN', 'SEXTANT_MASTER', 'SEXTANT_MARATHON', 'SEXTANT_CA', 'SEXTANT_CERT', 'SEXTANT_KEY']) delete bare[k];
  // What the summary exports: the master's own ports and the operator certificate.
  const exported = Object.fromEntries([...(up.output().match(/^ {2}export (.+?) {3}/m)?.[1] ?? '').matchAll(/(\w+)=(\S+)/g)].map((m) => [m[1]!, m[2]!]));
  t.same(exported, { SEXTANT_MASTER: s.masters[0]!.mesos, SEXTANT_MARATHON: s.masters[0]!.marathon, SEXTANT_CA: s.ca, SEXTANT_CERT: s.cli_cert, SEXTANT_KEY: s.cli_key }, 'the summary exports the master, the CA and the cli certificate');
  const withCert = { ...bare, ...exported };
  const viaEntry = { ...bare, SEXTANT_URL: s.entry, SEXTANT_CA: s.ca, SEXTANT_TOKEN: s.token };
  const cli = (env: NodeJS.ProcessEnv, args: string[]): Promise<Run> =>
    new Promise((resolve) => execFile(process.execPath, [sextantJs, ...args], { env, timeout: 60_000 }, (e, out, err) => resolve({ code: e ? ((e as { code?: number }).code ?? 1) : 0, out, err })));

  const suggested = up.output().match(/^ {2}node \S+sextant\.js task log (\S+) --follow {3}/m);
  t.ok(suggested, 'the secure summary suggests task log again');

  const spec = join(dir, 'ticker.json');
  writeFileSync(spec, JSON.stringify(TICKER));
  const add = await cli(withCert, ['app', 'add', spec]);
  t.equal(add.code, 0, `app add with the cli certificate${add.code ? `: ${add.err}` : ''}`);
  const [task] = JSON.parse((await cli(withCert, ['task', 'ls', '/ticker', '--json'])).out) as { id: string }[];
  t.ok(task, 'the ticker task');

  for (const [how, env] of [['with the cli certificate, straight to the agent', withCert], ['with the token, through the entry point', viaEntry]] as const) {
    const log = await eventually(async () => {
      const r = await cli(env, ['task', 'log', task!.id]);
      return r.code === 0 && /^tick 2$/m.test(r.out) && r;
    }, 30_000, 200, `three lines of the task log ${how}`);
    t.match(log.out, /^tick 0\ntick 1\ntick 2\n/, `task log ${how}: the stdout from the start`);
    const err = await cli(env, ['task', 'log', task!.id.slice(0, 16), '--stderr', '--lines', '1']);
    t.match([err.code, err.out], [0, /^err \d+\n$/], `task log --stderr --lines 1 ${how}`);
    const follow = spawnTracked(t, process.execPath, [sextantJs, 'task', 'log', task!.id, '--follow', '--lines', '1', '--interval', '200'], { env });
    const first = Number((await follow.waitFor(/^tick (\d+)$/m, 30_000))[1]);
    await follow.waitFor(new RegExp(`^tick ${first + 3}$`, 'm'), 30_000);
    t.pass(`--follow ${how} shows lines written after it started (tick ${first}, then tick ${first + 3})`);
    follow.kill('SIGINT');
    t.equal(await follow.exited, 0, `Ctrl-C ends --follow ${how} with 0`);
  }

  // The summary's own command, in the environment it exports (the example writes no stdout: it ends at once).
  const once = await cli(withCert, ['task', 'log', suggested?.[1] ?? 'missing']);
  t.equal(once.code, 0, `the suggested task log runs${once.code ? `: ${once.err}` : ''}`);

  // Refused, saying why.
  const noToken = await cli({ ...viaEntry, SEXTANT_TOKEN: '' }, ['task', 'log', task!.id]);
  t.equal(noToken.code, 1, 'through the entry point without a token: exit 1');
  t.match(noToken.err, /^sextant task log: no credential: send Authorization: token=<jwt>/m, 'the entry point says a token is missing');
  const { SEXTANT_CERT: _c, SEXTANT_KEY: _k, ...certless } = withCert;
  const noCert = await cli(certless, ['task', 'log', task!.id]);
  t.equal(noCert.code, 1, 'straight to the components without a certificate: exit 1');
  t.match(noCert.err, /needs a client certificate of the cluster CA/, 'the master says a client certificate is needed');
  const badToken = await cli({ ...viaEntry, SEXTANT_TOKEN: `${s.token.slice(0, -4)}AAAA` }, ['task', 'log', task!.id]);
  t.equal(badToken.code, 1, 'a token with a broken signature: exit 1');
  t.match(badToken.err, /^sextant task log: the token was not signed by this cluster/m, 'the refusal names the signature');
});
