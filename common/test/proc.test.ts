/** The process runner on real children: output, stdin, errors that name the command and its stderr, timeouts that kill by PID, namespaces. */
import t from 'tap';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run, runSync, ProcessError, type RunOptions } from '../proc.js';
import { createNetns, requireNetns, spawnTracked } from '../../test/lib/index.js';

const NODE = process.execPath;
const node = (src: string, ...args: string[]) => [NODE, '-e', src, ...args];
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

type Runner = (argv: string[], opts?: RunOptions) => Promise<{ stdout: string; stderr: string; code: number }>;
const runners: [string, Runner][] = [
  ['run', run],
  ['runSync', async (argv, opts) => runSync(argv, opts)],
];

for (const [name, r] of runners) {
  t.test(`${name}: output, stdin, exit codes`, async (t) => {
    t.equal((await r(node('process.stdout.write("a\\u00e9b")'))).stdout, 'aéb', 'stdout, utf-8');
    t.equal((await r(node('process.stdin.pipe(process.stdout)'), { input: 'line 1\nline 2\n' })).stdout, 'line 1\nline 2\n', 'input reaches stdin');
    t.equal((await r(node('process.stdin.on("data",()=>{}).on("end",()=>process.stdout.write("eof"))'))).stdout, 'eof', 'without input, stdin is empty');
    t.equal((await r(node('process.exit(3)'), { okCodes: [0, 3] })).code, 3, 'an exit code the caller counts as success');
    const e = await r(node('process.stderr.write("bad thing\\n"); process.exit(2)'), {}).catch((x: unknown) => x);
    t.type(e, ProcessError);
    const pe = e as ProcessError;
    t.equal(pe.name, 'ProcessError');
    t.match(pe.message, /node -e .* failed \(exit 2\): bad thing$/, 'the message names the command, the exit code and stderr');
    t.same([pe.code, pe.stderr, pe.timedOut], [2, 'bad thing\n', false]);
    const missing = (await r(['/nonexistent/sextant-cmd', 'x']).catch((x: unknown) => x)) as ProcessError;
    t.type(missing, ProcessError);
    t.match(missing.message, /^\/nonexistent\/sextant-cmd x could not run \(.*ENOENT/, 'a command that cannot start says so');
    await t.rejects(r([]), /argv must name a command/, 'an empty argv is refused');
  });

  t.test(`${name}: a timeout kills the child by its PID and says so`, async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'sextant-proc-'));
    t.teardown(() => rm(dir, { recursive: true, force: true }));
    const pidFile = join(dir, 'pid');
    // sh starts in a few ms, well within the timeout, and execs sleep under the same PID.
    const e = (await r(['sh', '-c', 'echo $$ > "$1"; exec sleep 60', 'sh', pidFile], { timeoutMs: 1500 }).catch((x: unknown) => x)) as ProcessError;
    t.type(e, ProcessError);
    t.ok(e.timedOut, 'marked as timed out');
    t.match(e.message, /timed out after 1500 ms \(killed\)/);
    const pid = Number(await readFile(pidFile, 'utf8'));
    t.notOk(alive(pid), `child ${pid} is gone`);
  });
}

t.test('run: an abort signal kills the child', async (t) => {
  const ac = new AbortController();
  const p = run(node('setInterval(() => {}, 1000); console.log("up")'), { signal: ac.signal });
  setImmediate(() => ac.abort());
  await t.rejects(p, /was aborted \(killed\)/);
  await t.rejects(run(['true'], { signal: AbortSignal.abort() }), /was aborted/, 'already aborted: nothing runs');
});

t.test('netns: the command runs inside the namespace, named or by path', async (t) => {
  requireNetns();
  const ns = await createNetns(t, 'pr');
  await ns.ip('link', 'add', 'sxprobe0', 'type', 'dummy').catch(() => ns.ip('link', 'add', 'sxprobe0', 'type', 'bridge'));
  const links = async (netns: string) => (JSON.parse((await run(['ip', '-j', 'link', 'show'], { netns })).stdout) as { ifname: string }[]).map((l) => l.ifname).sort();
  t.same(await links(ns.name), ['lo', 'sxprobe0'], 'by name');
  t.same(await links(`/run/netns/${ns.name}`), ['lo', 'sxprobe0'], 'by /run/netns path');
  const holder = spawnTracked(t, 'ip', ['netns', 'exec', ns.name, 'sleep', '60']);
  t.same(await links(`/proc/${holder.pid}/ns/net`), ['lo', 'sxprobe0'], 'by another namespace file (nsenter)');
  t.same(runSync(['ip', '-j', 'link', 'show', 'sxprobe0'], { netns: ns.name }).stdout.includes('sxprobe0'), true, 'runSync too');
  const e = (await run(['ip', 'link', 'show', 'nosuchlink'], { netns: ns.name }).catch((x: unknown) => x)) as ProcessError;
  t.match(e.message, new RegExp(`^ip netns exec ${ns.name} ip link show nosuchlink failed \\(exit 1\\): .*nosuchlink`), 'the error shows the namespace prefix');
  await t.rejects(run(['true'], { netns: 'no/such' }), /not a namespace name nor an absolute path/, 'a bad namespace is a clear error');
});
