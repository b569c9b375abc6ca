/**
 * The one way Sextant runs a subprocess: an argv (never a shell string), optional stdin, an
 * optional network namespace (common/netns.ts), a timeout that kills the child by its PID, and
 * on failure a ProcessError whose message holds the command, how it ended and its stderr.
 * `run` is asynchronous; `runSync` is for the CNI plugin, a short-lived process doing one thing
 * at a time, where a synchronous child costs no stream objects or event-loop round trips.
 * Imports nothing but node:child_process and common/ errors, so the CNI bundle stays small.
 */
import { spawn, spawnSync } from 'node:child_process';
import { SextantError } from './errors.js';
import { inNetns } from './netns.js';

export const DEFAULT_TIMEOUT_MS = 60_000;
const MAX_SYNC_OUTPUT = 64 << 20;

export interface RunOptions {
  /** Written to stdin, which is then closed; without it stdin is /dev/null. */
  input?: string;
  /** Run inside this network namespace (a name or a namespace file's path). */
  netns?: string;
  /** Kill the child (SIGKILL, by PID) after this long; default 60 s. */
  timeoutMs?: number;
  /** Exit codes that count as success; default [0]. */
  okCodes?: readonly number[];
  /** The child's whole environment; default this process's. */
  env?: NodeJS.ProcessEnv;
  /** Kill the child when aborted (async `run` only). */
  signal?: AbortSignal;
}

export interface RunResult {
  stdout: string;
  stderr: string;
  code: number;
}

/** How a child ended when it did not succeed. */
export interface ProcessEnd {
  code: number | null;
  signal: string | null;
  stdout: string;
  timedOutMs?: number;
  aborted?: boolean;
  /** The spawn failure (ENOENT, EACCES, ...) when the command could not run at all. */
  cause?: Error;
}

/** A subprocess failed: `argv` (what ran, namespace prefix included), `stderr`, how it ended. */
export class ProcessError extends SextantError {
  readonly code: number | null;
  readonly signal: string | null;
  readonly stdout: string;
  readonly timedOut: boolean;
  constructor(
    readonly argv: readonly string[],
    readonly stderr: string,
    end: ProcessEnd,
  ) {
    super(`${commandText(argv)} ${howItEnded(end)}${stderr.trim() ? `: ${stderr.trim().slice(0, 2000)}` : ''}`, end.cause ? { cause: end.cause } : undefined);
    this.code = end.code;
    this.signal = end.signal;
    this.stdout = end.stdout;
    this.timedOut = end.timedOutMs !== undefined;
  }
}

/** The command as a reader would type it (long ones cut). */
export function commandText(argv: readonly string[]): string {
  const s = argv.map((a) => (a === '' || /[\s"'\\$`]/.test(a) ? JSON.stringify(a) : a)).join(' ');
  return s.length > 300 ? `${s.slice(0, 297)}...` : s;
}

function howItEnded(e: ProcessEnd): string {
  if (e.cause) return `could not run (${e.cause.message})`;
  if (e.timedOutMs !== undefined) return `timed out after ${e.timedOutMs} ms (killed)`;
  if (e.aborted) return 'was aborted (killed)';
  return e.signal ? `was killed by ${e.signal}` : `failed (exit ${e.code})`;
}

function argvOf(argv: readonly string[], opts: RunOptions): string[] {
  if (!argv.length || !argv[0]) throw new TypeError('run: argv must name a command');
  return inNetns(opts.netns, argv);
}

/** Run `argv`; resolves its output when it exits with an ok code, rejects a ProcessError otherwise. */
export async function run(argv: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  const full = argvOf(argv, opts);
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const ok = opts.okCodes ?? [0];
  return new Promise((resolve, reject) => {
    if (opts.signal?.aborted) return reject(new ProcessError(full, '', { code: null, signal: null, stdout: '', aborted: true }));
    const child = spawn(full[0]!, full.slice(1), { env: opts.env, stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timedOut = false;
    let aborted = false;
    const kill = () => {
      if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
      try {
        process.kill(child.pid, 'SIGKILL');
      } catch {
        /* exited meanwhile */
      }
    };
    const timer = setTimeout(() => {
      timedOut = true;
      kill();
    }, timeoutMs);
    const onAbort = () => {
      aborted = true;
      kill();
    };
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    const settle = () => {
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
    };
    child.stdout!.on('data', (d: Buffer) => out.push(d));
    child.stderr!.on('data', (d: Buffer) => err.push(d));
    child.on('error', (e) => {
      settle();
      reject(new ProcessError(full, '', { code: null, signal: null, stdout: '', cause: e }));
    });
    child.on('close', (code, signal) => {
      settle();
      const stdout = Buffer.concat(out).toString('utf8');
      const stderr = Buffer.concat(err).toString('utf8');
      if (code !== null && ok.includes(code) && !timedOut && !aborted) return resolve({ stdout, stderr, code });
      reject(new ProcessError(full, stderr, { code, signal, stdout, timedOutMs: timedOut ? timeoutMs : undefined, aborted }));
    });
    if (child.stdin) {
      child.stdin.on('error', () => undefined); // a child that exits without reading: its exit status says why
      child.stdin.end(opts.input);
    }
  });
}

/** `run` without an event loop round trip (the CNI plugin); throws a ProcessError. `signal` is ignored. */
export function runSync(argv: readonly string[], opts: RunOptions = {}): RunResult {
  const full = argvOf(argv, opts);
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const r = spawnSync(full[0]!, full.slice(1), {
    env: opts.env,
    ...(opts.input === undefined ? {} : { input: opts.input }),
    stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    encoding: 'utf8',
    timeout: timeoutMs,
    killSignal: 'SIGKILL',
    maxBuffer: MAX_SYNC_OUTPUT,
  });
  const stdout = r.stdout ?? '';
  const stderr = r.stderr ?? '';
  const timedOut = (r.error as NodeJS.ErrnoException | undefined)?.code === 'ETIMEDOUT';
  if (r.error && !timedOut) throw new ProcessError(full, stderr, { code: null, signal: null, stdout, cause: r.error });
  if (r.status !== null && (opts.okCodes ?? [0]).includes(r.status) && !timedOut) return { stdout, stderr, code: r.status };
  throw new ProcessError(full, stderr, { code: r.status, signal: r.signal, stdout, timedOutMs: timedOut ? timeoutMs : undefined });
}
