/**
 * The processes `sextant up` starts: each a detached child (its own process group) running this
 * sextant entry point, its stderr appended to `<logs>/<name>.log`, its stdout lines kept to wait
 * for readiness lines. Stopped by PID (their process group), never by name.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
/** dist/cli/sextant.js, whether this runs compiled (dist/cli/up.js) or through tsx (cli/up.ts). */
export function sextantEntry(): string {
  const here = fileURLToPath(import.meta.url);
  return here.endsWith('.ts') ? join(here, '..', '..', 'dist', 'cli', 'sextant.js') : join(here, '..', 'sextant.js');
}

export interface Child {
  name: string;
  proc: ChildProcess;
  exited: Promise<void>;
  lines: string[];
}

export const say = (s: string) => process.stdout.write(`${s}\n`);

export type Wrap = (cmd: string, args: string[]) => [string, string[]];

export function startChild(name: string, argv: string[], logDir: string, onExit: (how: string) => void, wrap?: Wrap, env: Record<string, string> = {}): Child {
  const [cmd, args] = wrap ? wrap(process.execPath, [sextantEntry(), ...argv]) : [process.execPath, [sextantEntry(), ...argv]];
  const logFile = join(logDir, `${name}.log`);
  // SEXTANT_LOG_FILE: the node serves its own log to `sextant diag bundle` (diag/logs.ts).
  const proc = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true, env: { ...process.env, ...env, SEXTANT_LOG_FILE: logFile } });
  const log = createWriteStream(logFile, { flags: 'a' });
  proc.stderr!.pipe(log);
  const lines: string[] = [];
  let buf = '';
  proc.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
      lines.push(buf.slice(0, i));
      buf = buf.slice(i + 1);
    }
  });
  const exited = new Promise<void>((resolve) =>
    proc.once('exit', (code, sig) => {
      const how = sig ?? `code ${code}`;
      say(`${name}: exited (${how})`);
      onExit(how);
      resolve();
    }),
  );
  return { name, proc, exited, lines };
}

/** Wait for a stdout line of the child matching `re` (fails when it exits first). */
export async function waitLine(c: Child, re: RegExp, timeoutMs: number): Promise<RegExpMatchArray> {
  const end = Date.now() + timeoutMs;
  let dead = false;
  void c.exited.then(() => (dead = true));
  for (;;) {
    for (const l of c.lines) {
      const m = l.match(re);
      if (m) return m;
    }
    if (dead) throw new Error(`${c.name} exited before it was ready; see its log`);
    if (Date.now() > end) throw new Error(`${c.name} not ready after ${timeoutMs} ms; see its log`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export const running = (c: Child | undefined): c is Child => !!c && c.proc.exitCode === null && c.proc.signalCode === null;

/** SIGTERM the child's process group (it was spawned detached: pgid = its pid), SIGKILL after graceMs. */
export async function terminate(c: Child, graceMs: number): Promise<void> {
  const pid = c.proc.pid;
  if (!pid || !running(c)) return;
  const sig = (s: NodeJS.Signals) => {
    try {
      process.kill(-pid, s);
    } catch {
      /* gone */
    }
  };
  sig('SIGTERM');
  const timer = setTimeout(() => sig('SIGKILL'), graceMs);
  await c.exited;
  clearTimeout(timer);
}
