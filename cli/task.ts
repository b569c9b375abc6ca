/**
 * `sextant task ls [APP]` (Marathon's tasks) and `sextant task log TASK [--follow] [--stderr]
 * [--lines N]` (the task's sandbox file, through the agent's `/files/read`; `--follow` polls from
 * the last offset until interrupted).
 */
import { InvalidArgumentError, Option, type Command } from 'commander';
import { CLUSTER_HELP, clientFrom, clusterOptions, runProgram } from '../common/cli-command.js';
import type { ClusterOptions } from '../common/cli-client.js';
import { processTerm, type Term } from '../common/cli-output.js';
import { appPath } from './app-wait.js';
import { tasksTable, type MarathonTask } from './marathon-views.js';
import { findSandboxFile, readFrom, tailRange } from './task-sandbox.js';

interface LsOptions extends ClusterOptions {
  json?: boolean;
}
interface LogOptions extends ClusterOptions {
  follow?: boolean;
  stderr?: boolean;
  lines?: number;
  interval: number;
  json?: boolean;
}

function positiveInt(min: number) {
  return (v: string): number => {
    if (!/^\d+$/.test(v) || Number(v) < min || !Number.isSafeInteger(Number(v))) throw new InvalidArgumentError(`a whole number >= ${min}`);
    return Number(v);
  };
}

/** Resolves when the process is told to stop (Ctrl-C, SIGTERM) or `signal` aborts. */
function stopped(signal?: AbortSignal): { promise: Promise<void>; dispose(): void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  const on = () => resolve();
  process.once('SIGINT', on);
  process.once('SIGTERM', on);
  signal?.addEventListener('abort', on, { once: true });
  return { promise, dispose: () => (process.off('SIGINT', on), process.off('SIGTERM', on), signal?.removeEventListener('abort', on)) };
}

async function log(term: Term, task: string, o: LogOptions, signal?: AbortSignal): Promise<number> {
  const client = clientFrom(o);
  const f = await findSandboxFile(client, task, o.stderr ? 'stderr' : 'stdout');
  // --json: one JSON line per slice read, so a script can follow too.
  const write = o.json ? (data: string, offset: number) => term.out(`${JSON.stringify({ task: f.taskId, agent: f.agentId, path: f.path, offset, data })}\n`) : (data: string) => term.out(data);
  // --lines N: the last N lines as the file is now (what the task writes meanwhile comes only with --follow).
  const range = o.lines === undefined ? { start: 0, end: undefined } : await tailRange(client, f, o.lines);
  let offset = await readFrom(client, f, range.start, write, range.end);
  if (!o.follow) return 0;
  const stop = stopped(signal);
  try {
    for (;;) {
      let timer: NodeJS.Timeout | undefined;
      const woke = await Promise.race([stop.promise.then(() => 'stop' as const), new Promise<'tick'>((r) => (timer = setTimeout(() => r('tick'), o.interval)))]);
      clearTimeout(timer);
      if (woke === 'stop') return 0;
      offset = await readFrom(client, f, offset, write);
    }
  } finally {
    stop.dispose();
  }
}

function define(root: Command, run: (p: string, fn: () => Promise<number>) => Promise<void>, term: Term, signal?: AbortSignal): void {
  root.description("tasks: list them, read a task's stdout/stderr").addHelpText('after', CLUSTER_HELP);

  clusterOptions(root.command('ls').description("list running tasks (of every app, or of APP)").argument('[app]', 'app id, e.g. /hello').option('--json', 'print the tasks as JSON')).action((app: string | undefined, o: LsOptions) =>
    run('sextant task ls', async () => {
      const client = clientFrom(o);
      const path = app ? `${appPath(app)}/tasks` : '/v2/tasks';
      const { tasks } = await client.request<{ tasks: MarathonTask[] }>('marathon', path);
      tasks.sort((a, b) => a.appId.localeCompare(b.appId) || a.id.localeCompare(b.id));
      term.out(o.json ? `${JSON.stringify(tasks, null, 2)}\n` : tasks.length ? tasksTable(term, tasks) : `no tasks${app ? ` of ${app}` : ''}\n`);
      return 0;
    }),
  );

  clusterOptions(
    root
      .command('log')
      .description("print a task's stdout (or stderr) from its sandbox on the agent")
      .argument('<task>', 'task id, or a part of it that names one task')
      .option('--follow', 'keep printing what the task writes, until Ctrl-C')
      .option('--stderr', 'stderr instead of stdout')
      .addOption(new Option('--lines <n>', 'only the last N lines (then --follow goes on from there)').argParser(positiveInt(0)))
      .addOption(new Option('--interval <ms>', 'how often --follow asks the agent').default(1000).argParser(positiveInt(100)))
      .option('--json', 'print JSON lines {task, agent, path, offset, data}, one per slice read'),
  ).action((task: string, o: LogOptions) => run('sextant task log', () => log(term, task, o, signal)));
}

export async function main(argv: string[], term: Term = processTerm(), signal?: AbortSignal): Promise<number> {
  return runProgram(argv, term, 'sextant task', (root, run) => define(root, run, term, signal));
}
