/**
 * Issue #28, "commands that wait": `sextant network create`, `isolate` and `allow` on `sextant up
 * --netns` (root, two agents) return once every agent applied the control-plane version the master
 * named as carrying the change (X-Sextant-Control-Version), off a terminal (plain lines, then
 * `--json` with the wait's outcome) and on one (tmux: the bar). For isolate and allow the rule is in
 * each agent's nftables table when the command returns; the same isolate again waits for the
 * version already carrying it.
 */
import t from 'tap';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { requestJson } from '../../common/http.js';
import { eventually, requireNetns, requireTools, runInTmux } from '../lib/index.js';
import { sextantJs } from './backbone-lib.js';
import { startNetnsUp } from './netns-up.js';

t.setTimeout(240_000);
requireNetns();
requireTools('tmux');

const pexec = promisify(execFile);
type Status = { version: number; agents: { agent_id: string; applied: number }[] };

t.test('network create waits until every agent applied it, on and off a terminal', async (t) => {
  const c = await startNetnsUp(t, 2);
  const status = async () => (await requestJson(`${c.master}/v1/control/agents`)).body as Status;
  await eventually(async () => {
    const s = await status();
    return c.agents.every((a) => s.agents.find((r) => r.agent_id === a.id)?.applied === s.version);
  }, 30_000, 100, 'every agent applying the current version at start');
  const before = (await status()).version;

  const plain = await pexec(process.execPath, [sextantJs, 'network', 'create', 'waitme', '--subnet', '10.232.0.0/16', '--master', c.master], { encoding: 'utf8', timeout: 60_000 });
  t.match(plain.stdout, /^created waitme 10\.232\.0\.0\/16 \/24 per agent \(applied by 2 agents, version \d+\)$/m);
  t.match(plain.stderr, /^agents applied 2\/2$/m, 'plain progress lines on stderr, ending at 2/2');
  const s = await status();
  const v = Number(/version (\d+)/.exec(plain.stdout)![1]);
  t.ok(v > before, 'the version waited for is after the write');
  for (const a of c.agents) t.ok((s.agents.find((r) => r.agent_id === a.id)?.applied ?? 0) >= v, `${a.id} applied it when the command returned`);

  const json = await pexec(process.execPath, [sextantJs, 'network', 'create', 'waitjs', '--subnet', '10.233.0.0/16', '--json', '--master', c.master], { encoding: 'utf8', timeout: 60_000 });
  t.match(JSON.parse(json.stdout), { result: { name: 'waitjs' }, wait: { waited: 'applied', agents: 2 } });

  const sextant = (...args: string[]) => pexec(process.execPath, [sextantJs, 'network', ...args, '--master', c.master], { encoding: 'utf8', timeout: 60_000 });
  /** Each agent's isolation table holds the counted rule `comment` now (no waiting: the command's wait was it). */
  const inKernel = async (comment: string, what: string) => {
    for (let i = 1; i <= c.agents.length; i++) t.match(await c.inAgent(i, ['nft', 'list', 'table', 'ip', 'sextant_overlay']), `comment "${comment}"`, `${what}: in agent ${i}'s table when the command returned`);
  };
  const beforeIsolate = (await status()).version;
  const iso = await sextant('isolate', 'waitme', 'deny');
  const isoMatch = /^waitme: default deny towards other networks \(applied by 2 agents, version (\d+)\)$/m.exec(iso.stdout);
  t.ok(isoMatch, `isolate says what it waited for: ${iso.stdout}`);
  const isoVersion = Number(isoMatch?.[1]);
  t.ok(isoVersion > beforeIsolate, 'isolate: a new version carries the default');
  t.match(iso.stderr, /^agents applied 2\/2$/m, 'isolate: plain progress lines on stderr');
  await inKernel('default:waitme', 'isolate');
  const current = (await status()).version;
  const again = JSON.parse((await sextant('isolate', 'waitme', 'deny', '--json')).stdout) as { wait: { waited: string; version: number } };
  t.match(again, { wait: { waited: 'applied', agents: 2 } }, 'the same default again: waited');
  t.equal(again.wait.version, current, 'for the version already current (the write changed nothing, nothing new was published)');
  t.ok(again.wait.version >= isoVersion, 'which carries the default');

  const allow = JSON.parse((await sextant('allow', 'waitme', 'waitjs', '--ports', '80', '--protocol', 'tcp', '--json')).stdout) as { result: { key: string }; wait: { waited: string; version: number } };
  t.match(allow, { result: { key: 'waitme>waitjs:tcp:80' }, wait: { waited: 'applied', agents: 2 } }, 'allow --json: the rule and the wait');
  t.ok(allow.wait.version > again.wait.version, 'allow: a new version carries the rule');
  await inKernel('waitme>waitjs:tcp:80', 'allow');
  const gone = await sextant('allow', 'waitme', 'waitjs', '--ports', '80', '--protocol', 'tcp', '--delete');
  t.match(gone.stdout, /^removed rule waitme>waitjs:tcp:80 \(applied by 2 agents, version \d+\)$/m, 'allow --delete waits too');
  for (let i = 1; i <= c.agents.length; i++) t.notMatch(await c.inAgent(i, ['nft', 'list', 'table', 'ip', 'sextant_overlay']), 'waitme>waitjs', `allow --delete: gone from agent ${i}'s table when the command returned`);

  const cmd = `${process.execPath} ${sextantJs} network create waittty --subnet 10.234.0.0/16 --master ${c.master}; echo CODE=$?; exec cat`;
  const pane = await runInTmux(t, { cmd, done: /^CODE=\d+$/m, rows: 20, timeoutMs: 90_000, what: 'network create to finish in tmux' });
  t.match(pane, /^CODE=0$/m);
  t.match(pane, /^agents applied \[█+░*\] 2\/2$/m, 'the bar, full at the end');
  t.match(pane, /^created waittty /m);
});
