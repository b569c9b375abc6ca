/**
 * A command on a terminal: a detached tmux session on its own server socket (both named with the
 * per-run prefix), read back with `capture-pane`. The session is killed by its name and the socket
 * file removed in teardown, even when the test fails.
 */
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { uniqueName } from './names.js';
import { eventually, type Teardownable } from './proc.js';
import { requireTools } from './require.js';

export interface TmuxRun {
  /** The shell command line the session runs; end it with `exec cat` so the pane stays to be read. */
  cmd: string;
  /** The pane's text is final once it matches this (e.g. a line the command line echoes last). */
  done: RegExp;
  /** What the wait is for, named when it times out. */
  what: string;
  timeoutMs: number;
  /** Pane size; 120 x 40 unless given. */
  columns?: number;
  rows?: number;
}

/** Run `cmd` in a fresh tmux session and resolve with the pane's text once it matches `done`. */
export async function runInTmux(t: Teardownable, run: TmuxRun): Promise<string> {
  const { tmux } = requireTools('tmux');
  const sock = uniqueName('tmux');
  const session = uniqueName('term');
  execFileSync(tmux, ['-L', sock, 'new-session', '-d', '-s', session, '-x', String(run.columns ?? 120), '-y', String(run.rows ?? 40), run.cmd]);
  const socketPath = execFileSync(tmux, ['-L', sock, 'display-message', '-p', '#{socket_path}'], { encoding: 'utf8' }).trim();
  t.teardown(() => {
    try {
      execFileSync(tmux, ['-L', sock, 'kill-session', '-t', session], { stdio: 'pipe' });
    } catch {
      /* already gone */
    }
    // The server ends with its only session; its socket file stays unless removed.
    if (socketPath.endsWith(`/${sock}`)) rmSync(socketPath, { force: true });
  });
  return eventually(() => {
    const pane = execFileSync(tmux, ['-L', sock, 'capture-pane', '-p', '-t', session], { encoding: 'utf8' });
    return run.done.test(pane) && pane;
  }, run.timeoutMs, 250, run.what);
}
