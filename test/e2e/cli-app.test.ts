/**
 * Issue 28, "a CLI to live in": `sextant app ...` and `sextant task ...` against a real `sextant up`
 * (master, two agents, the example app), run as a user runs them (the built CLI). Off a terminal:
 * each command's output and exit code, plain progress lines, the API's message on errors (unknown
 * app, bad JSON, 422) with nothing changed, `task log` and `--follow`, and every command the up
 * summary suggests. On a terminal (tmux, its own socket and session, killed by name): the progress
 * bar and the boxed table.
 */
import t from 'tap';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventually, requireTools, runInTmux, spawnTracked, uniqueName } from '../lib/index.js';
import { sextantJs } from './backbone-lib.js';
import { spawnUp, upArgs, upPlan, upWorkDir } from './up-lib.js';

t.setTimeout(300_000);

interface Run {
  code: number;
  out: string;
  err: string;
}

const TICKER = { id: '/ticker', cmd: 'i=0; while true; do echo tick $i; echo err $i >&2; i=$((i+1)); sleep 0.2; done', instances: 1, cpus: 0.1, mem: 32 };

t.test('sextant app and task against sextant up', async (t) => {
  const plan = await upPlan();
  const dir = upWorkDir(t, 'cliapp');
  const up = spawnUp(t, upArgs(plan, dir, 2), dir);
  await up.waitFor(/sextant up: (ready|not ready)/, 120_000);
  const master = `${plan.ipBase}.1:${plan.masterPort}`;
  const marathon = `${plan.ipBase}.1:${plan.marathonPort}`;
  const home = mkdtempSync(join(tmpdir(), `${uniqueName('home')}-`));
  t.teardown(() => rmSync(home, { recursive: true, force: true }));
  // A home of its own: no token stored by someone else is sent.
  const env: NodeJS.ProcessEnv = { ...process.env, SEXTANT_MASTER: master, SEXTANT_MARATHON: marathon, HOME: home, XDG_CONFIG_HOME: join(home, '.config') };
  delete env.SEXTANT_URL;
  delete env.SEXTANT_TOKEN;
  const cli = (args: string[], stdin?: string): Promise<Run> =>
    new Promise((resolve) => {
      const p = execFile(process.execPath, [sextantJs, ...args], { env, timeout: 120_000 }, (e, out, err) => resolve({ code: e ? ((e as { code?: number }).code ?? 1) : 0, out, err }));
      p.stdin?.end(stdin ?? '');
    });
  const ok = (r: Run, what: string) => t.equal(r.code, 0, `${what} exits 0${r.code ? `: ${r.err}` : ''}`);
  const file = join(dir, 'ticker.json');
  writeFileSync(file, JSON.stringify(TICKER));
  // `up` is ready once the example runs; its health checks pass a little later (and the control plane then moves on).
  await eventually(async () => {
    const r = await cli(['app', 'show', '/hello', '--json']);
    return r.code === 0 && (JSON.parse(r.out) as { tasksHealthy: number }).tasksHealthy === 2;
  }, 60_000, 250, 'the example app healthy');

  t.test('the up summary: what to run next, and each of it runs', async (t) => {
    const out = up.output();
    t.match(out, /^Next, from another shell:$/m);
    t.match(out, new RegExp(`^ {2}export SEXTANT_MASTER=${master.replace(/\./g, '\\.')} SEXTANT_MARATHON=${marathon.replace(/\./g, '\\.')} `, 'm'), 'names this cluster');
    const cmds = [...out.matchAll(/^ {2}node (\S+sextant\.js) (.+?) {3}/gm)].map((m) => ({ js: m[1]!, args: m[2]!.trim().split(/\s+/) }));
    t.ok(cmds.length >= 6, `${cmds.length} commands suggested`);
    for (const c of cmds) {
      t.ok(c.js.endsWith('dist/cli/sextant.js'), `${c.js} is this CLI`);
      const args = c.args.map((a) => (a === 'FILE.json' ? file : a)).filter((a) => a !== '--follow');
      if (args[0] === 'app' && ['add', 'scale'].includes(args[1]!)) {
        const help = await cli([...args.slice(0, 2), '--help']);
        ok(help, `${args.slice(0, 2).join(' ')} --help`);
        continue;
      }
      // control status exits 3 while an agent catches up with a new version: wait for convergence, bounded.
      const r = args[0] === 'control' ? await eventually(async () => { const x = await cli(args); return x.code !== 3 && x; }, 30_000, 250, 'the agents to converge') : await cli(args);
      ok(r, args.join(' '));
    }
  });

  t.test('off a terminal: plain tables, plain progress lines, results', async (t) => {
    const ls = await cli(['app', 'ls']);
    ok(ls, 'app ls');
    t.match(ls.out, /^ID\s+RUNNING\s+HEALTHY\s+STAGED/m, 'a header');
    t.match(ls.out, /^\/hello\s+2\/2\s+2\s+0\s/m, 'the example: 2/2 running, 2 healthy');
    t.notMatch(ls.out, /[│┌└─]/, 'no box drawing off a terminal');
    const lsJson = await cli(['app', 'ls', '--json']);
    t.same(JSON.parse(lsJson.out).map((a: { id: string }) => a.id), ['/hello'], 'app ls --json');

    const add = await cli(['app', 'add', file]);
    ok(add, 'app add FILE');
    t.match(add.out, /^\/ticker: 1\/1 running \(deployment \S+ done\)$/m, 'the result on stdout');
    t.match(add.err, /^created \/ticker: waiting for deployment \S+$/m);
    t.match(add.err, /^\/ticker: \d\/1 running, \d staged$/m, 'progress as plain lines');
    t.notMatch(add.err, /\r|\x1b\[/, 'no cursor control off a terminal');

    const show = await cli(['app', 'show', '/ticker']);
    ok(show, 'app show');
    t.match(show.out, /^instances\s+1 running of 1/m);
    t.match(show.out, /^ticker\.\S+\s+\/ticker\s+TASK_RUNNING\s/m, 'its task');
    t.equal(JSON.parse((await cli(['app', 'show', '/ticker', '--json'])).out).id, '/ticker', 'app show --json');

    const tasks = await cli(['task', 'ls', '/ticker', '--json']);
    ok(tasks, 'task ls APP --json');
    const [task] = JSON.parse(tasks.out) as { id: string }[];
    t.ok(task, 'one task');
    const all = await cli(['task', 'ls']);
    t.match(all.out, new RegExp(`^${task!.id.replace(/\./g, '\\.')}\\s+/ticker\\s+TASK_RUNNING`, 'm'), 'task ls lists it');
    t.match(all.out, /^hello\.\S+\s+\/hello\s+TASK_RUNNING/m, 'and the example');

    const log = await eventually(async () => {
      const r = await cli(['task', 'log', task!.id]);
      return r.code === 0 && /^tick 2$/m.test(r.out) && r;
    }, 30_000, 200, 'three lines in the task log');
    t.match(log.out, /^tick 0\ntick 1\ntick 2\n/, "task log: the task's stdout from the start");
    const errLog = await cli(['task', 'log', task!.id.slice(0, 16), '--stderr', '--lines', '1']);
    ok(errLog, 'task log PART-OF-ID --stderr --lines 1');
    t.match(errLog.out, /^err \d+\n$/, 'one line of stderr');
    const follow = spawnTracked(t, process.execPath, [sextantJs, 'task', 'log', task!.id, '--follow', '--lines', '1', '--interval', '200'], { env });
    const first = Number((await follow.waitFor(/^tick (\d+)$/m, 30_000))[1]);
    await follow.waitFor(new RegExp(`^tick ${first + 3}$`, 'm'), 30_000);
    t.pass(`--follow shows lines written after it started (tick ${first}, then tick ${first + 3})`);
    t.notMatch(follow.output(), new RegExp(`^tick ${first - 1}$`, 'm'), '--lines 1: nothing before the last line');
    follow.kill('SIGINT');
    t.equal(await follow.exited, 0, 'Ctrl-C ends --follow with 0');

    // The entry-point layout (--url): the master's own port serves it (/marathon/, /mesos/, /agent/<id>/files/read).
    const viaUrl = ['--url', `http://${master}`];
    const urlShow = await cli(['app', 'show', '/ticker', '--json', ...viaUrl]);
    ok(urlShow, 'app show --url');
    t.equal(JSON.parse(urlShow.out).id, '/ticker', 'through /marathon/');
    const urlLog = await cli(['task', 'log', task!.id, '--lines', '1', ...viaUrl]);
    ok(urlLog, 'task log --url');
    t.match(urlLog.out, /^tick \d+\n$/, 'through /mesos/master/state and /agent/<id>/files/read');

    const scale = await cli(['app', 'scale', '/ticker', '2']);
    ok(scale, 'app scale');
    t.match(scale.out, /^\/ticker: 2\/2 running \(deployment \S+ done\)$/m);
    const restart = await cli(['app', 'restart', '/ticker', '--json']);
    ok(restart, 'app restart --json');
    const restarted = JSON.parse(restart.out) as { id: string; tasksRunning: number; tasks: { id: string }[] };
    t.equal(restarted.id, '/ticker');
    t.equal(restarted.tasksRunning, 2, 'two running after the restart');
    t.notOk(restarted.tasks.some((x) => x.id === task!.id), 'the old task was replaced');

    const noWait = await cli(['app', 'scale', '/ticker', '1', '--no-wait', '--json']);
    ok(noWait, 'app scale --no-wait --json');
    t.ok(JSON.parse(noWait.out).deploymentId, 'the API answer, at once');
    const rm = await cli(['app', 'rm', '/ticker', '--force']);
    ok(rm, 'app rm');
    t.match(rm.out, /^\/ticker: removed \(deployment \S+ done\)$/m);
    const gone = await cli(['app', 'show', '/ticker']);
    t.equal(gone.code, 1, 'app show of a removed app exits 1');
    t.match(gone.err, /^sextant app show: App '\/ticker' does not exist$/m);
  });

  t.test('errors: the API message, a non-zero exit, nothing changed', async (t) => {
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, '{"id": "/bad",');
    const rows: [string[], string | undefined, number, RegExp][] = [
      [['app', 'show', '/nope'], undefined, 1, /^sextant app show: App '\/nope' does not exist$/m],
      [['app', 'scale', '/nope', '3'], undefined, 1, /^sextant app scale: App '\/nope' does not exist$/m],
      [['app', 'rm', '/nope'], undefined, 1, /^sextant app rm: App '\/nope' does not exist$/m],
      [['app', 'add', bad], undefined, 2, /^sextant app add: .*bad\.json is not valid JSON: /m],
      [['app', 'add', '-'], '[1]', 2, /^sextant app add: stdin must hold one app definition/m],
      [['app', 'add', '-'], JSON.stringify({ id: '/bad', cmd: 'sleep 1', cpus: -1 }), 1, /^sextant app add: Object is not valid: \/cpus: /m],
      [['app', 'add', join(dir, 'missing.json')], undefined, 2, /^sextant app add: cannot read .*missing\.json: ENOENT/m],
      [['app', 'scale', '/hello', 'many'], undefined, 2, /a whole number/],
      [['task', 'log', 'nosuchtask'], undefined, 1, /^sextant task log: no task matches 'nosuchtask'/m],
      [['task', 'log', 'hello'], undefined, 1, /^sextant task log: 'hello' matches 2 tasks: /m],
      [['app', 'ls', '--master', '127.0.0.1:1', '--marathon', '127.0.0.1:1'], undefined, 1, /^sextant app ls: cannot reach http:\/\/127\.0\.0\.1:1: ECONNREFUSED/m],
      [['app', 'ls', '--url', 'ftp://x'], undefined, 2, /^sextant app ls: --url "ftp:\/\/x": only https/m],
      [['app', 'frob'], undefined, 2, /unknown command 'frob'/],
    ];
    for (const [args, stdin, code, re] of rows) {
      const r = await cli(args, stdin);
      t.equal(r.code, code, `${args.join(' ')} exits ${code}`);
      t.match(r.err, re, `${args.join(' ')} says why`);
    }
    const apps = JSON.parse((await cli(['app', 'ls', '--json'])).out) as { id: string; instances: number }[];
    t.same(apps.map((a) => [a.id, a.instances]), [['/hello', 2]], 'nothing was created or changed');
  });

  t.test('on a terminal: a progress bar and boxed tables', async (t) => {
    const envs = `SEXTANT_MASTER=${master} SEXTANT_MARATHON=${marathon} HOME=${home} XDG_CONFIG_HOME=${home}/.config`;
    const cmd = `env ${envs} ${process.execPath} ${sextantJs} app add ${file}; echo ADD=$?; env ${envs} ${process.execPath} ${sextantJs} app ls; echo LS=$?; env ${envs} ${process.execPath} ${sextantJs} app rm /ticker --no-wait; echo DONE; exec cat`;
    const pane = await runInTmux(t, { cmd, done: /^DONE$/m, timeoutMs: 120_000, what: 'the commands to finish in tmux' });
    t.match(pane, /^ADD=0$/m, 'app add exits 0 on a terminal');
    t.match(pane, /^\/ticker \[█+░*\] 1\/1 running, 0 staged$/m, 'the progress bar, full at the end');
    t.match(pane, /^\/ticker: 1\/1 running \(deployment \S+ done\)$/m, 'then the result');
    t.match(pane, /^┌─+┬/m, 'app ls draws a box');
    t.match(pane, /^│ ID\s+│ RUNNING │/m, 'with a header row');
    t.match(pane, /^│ \/ticker\s+│ 1\/1\s+│/m, 'and a row per app');
    t.match(pane, /^LS=0$/m);
  });
});
