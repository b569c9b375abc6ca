/**
 * Issue #28, "commands that wait": `sextant network create` on `sextant up --netns` (root, two
 * agents) returns once every agent applied the control-plane version carrying the network, off a
 * terminal (plain lines, then `--json` with the wait's outcome) and on one (tmux: the bar).
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

  const cmd = `${process.execPath} ${sextantJs} network create waittty --subnet 10.234.0.0/16 --master ${c.master}; echo CODE=$?; exec cat`;
  const pane = await runInTmux(t, { cmd, done: /^CODE=\d+$/m, rows: 20, timeoutMs: 90_000, what: 'network create to finish in tmux' });
  t.match(pane, /^CODE=0$/m);
  t.match(pane, /^agents applied \[█+░*\] 2\/2$/m, 'the bar, full at the end');
  t.match(pane, /^created waittty /m);
});
