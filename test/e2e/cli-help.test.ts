/**
 * Issue 24: `--help` and `-h` on `sextant` and on every command print usage on stdout and exit 0
 * (through the built CLI, as a user runs it). Bad options still exit non-zero.
 */
import t from 'tap';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { sextantJs } from './backbone-lib.js';

function run(args: string[]): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [sextantJs, ...args], { timeout: 20_000 }, (e, out, err) => resolve({ code: e ? ((e as { code?: number }).code ?? 1) : 0, out, err }));
  });
}

// One row per command: the arguments before the help flag, and what its usage line starts with.
const rows: [string[], RegExp][] = [
  [[], /^usage: sextant <command>/],
  [['up'], /^Usage: sextant up \[options\]/],
  [['master'], /^usage: sextant master /],
  [['agent'], /^usage: sextant agent /],
  [['mesos-dns'], /^usage: sextant mesos-dns /],
  [['dispatcher'], /^usage: sextant dispatcher /],
  [['dns'], /^Usage: sextant dns/],
  [['dns', 'query'], /^Usage: sextant dns query/],
  [['control'], /^usage: sextant control status/],
  [['control', 'status'], /^usage: sextant control status/],
  [['vip'], /^usage: sextant vip ls/],
  [['vip', 'ls'], /^usage: sextant vip ls/],
  [['vip', 'show'], /^usage: sextant vip ls.* \| show NAME\|VIP/],
  [['network'], /^usage: sextant network /],
  [['network', 'ls'], /^usage: sextant network /],
  [['node'], /^usage: sextant node /],
  [['node', 'rm'], /^usage: sextant node /],
  [['app'], /^Usage: sextant app \[options\] \[command\]/],
  ...['add', 'ls', 'show', 'scale', 'restart', 'rm'].map((c): [string[], RegExp] => [['app', c], new RegExp(`^Usage: sextant app ${c} \\[options\\]`)]),
  [['task'], /^Usage: sextant task \[options\] \[command\]/],
  [['task', 'ls'], /^Usage: sextant task ls \[options\] \[app\]/],
  [['task', 'log'], /^Usage: sextant task log \[options\] <task>/],
  [['diag'], /^Usage: sextant diag/],
  [['diag', 'bundle'], /^Usage: sextant diag bundle/],
  [['auth'], /^Usage: sextant auth /],
  [['auth', 'login'], /^Usage: sextant auth login /],
  [['acl'], /^Usage: sextant acl /],
  [['acl', 'grant'], /^Usage: sextant acl grant /],
  [['user'], /^Usage: sextant user /],
];

t.test('every command prints usage and exits 0 on --help and -h', async (t) => {
  t.ok(existsSync(sextantJs), `${sextantJs} is built (npm run build)`);
  for (const [cmd, usage] of rows) {
    for (const flag of ['--help', '-h']) {
      const r = await run([...cmd, flag]);
      const what = `sextant ${[...cmd, flag].join(' ')}`;
      t.equal(r.code, 0, `${what} exits 0`);
      t.match(r.out, usage, `${what} prints its usage on stdout`);
    }
  }
  const h = await run(['help', 'up']);
  t.equal(h.code, 0, 'sextant help up exits 0');
  t.match(h.out, /^Usage: sextant up/, 'and prints the usage of up');
});

t.test('the usage of sextant up lists its options', async (t) => {
  const r = await run(['up', '--help']);
  for (const opt of ['--agents', '--work-dir', '--no-example', '--netns', '--master-port', '--marathon-port', '--agent-port', '--ip-base', '--port-base', '--agent-timeout-ms', '--mesos-dns-port', '--status-file'])
    t.match(r.out, opt, `lists ${opt}`);
});

t.test('the usage of sextant master lists the network metrics flags', async (t) => {
  const r = await run(['master', '--help']);
  for (const opt of ['--vip-failure-threshold', '--vip-failure-min-connections', '--vip-drain-failing', '--vip-metrics-interval-ms']) t.match(r.out, opt, `lists ${opt}`);
});

t.test('bad options still fail', async (t) => {
  for (const args of [['up', '--bogus'], ['up', '--agents', '0'], ['master', '--bogus'], ['nosuchcommand'], ['app'], ['app', 'ls', '--bogus'], ['app', 'scale', '/x'], ['task', 'log'], ['diag', '--bogus'], ['diag', 'bundle', '--bogus'], ['node', 'ls', '--bogus'], ['node', 'nosuch'], ['vip', 'ls', '--bogus'], ['vip', 'show'], ['vip', 'nosuch'], ['master', '--vip-failure-threshold', '2']]) {
    const r = await run(args);
    t.equal(r.code, 2, `sextant ${args.join(' ')} exits 2`);
    t.ok(r.err.length > 0, 'and says why on stderr');
  }
});
