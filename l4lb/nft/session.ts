/**
 * One long-lived `nft -i` process (behind the same namespace prefix as every other `nft` run) that
 * takes one transaction per line. A one-shot `nft -f -` per change pays a fork/exec, libnftables'
 * start-up, a cache fill and, when it closes its netlink socket after a commit, an RCU grace period
 * (7-15 ms): the session pays them once. Each line is one batch, so a line is atomic as `nft -f`
 * is. After each line the session writes a marker line that nft cannot parse; nft echoes it in a
 * syntax error (stderr, merged into stdout), and whatever came before that error is the line's own
 * output: empty on success, nft's error text otherwise.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { SerialQueue } from '../../common/serial-queue.js';
import { DriverError } from '../errors.js';
import { place, type NftExecOptions } from './exec.js';

/**
 * Lines longer than this go through a one-shot `nft -f -` instead: nft -i reads a line through
 * libedit, which costs several times `nft -f`'s parse on long lines (1,000 VIPs from empty: 550 vs
 * 70 ms of CPU).
 */
export const SESSION_MAX_LINE = 16 * 1024;

interface Pending {
  tag: string;
  resolve(): void;
  reject(e: Error): void;
  timer: NodeJS.Timeout;
}

export class NftSession {
  private proc?: ChildProcessWithoutNullStreams;
  private buf = '';
  private pending?: Pending;
  private seq = 0;
  private readonly queue = new SerialQueue();
  private readonly argv: string[];
  private readonly timeoutMs: number;
  /** Processes started so far (tests check that changes reuse one). */
  spawned = 0;

  /** The running nft's process id (the bench reads its CPU time). */
  get pid(): number | undefined {
    return this.proc?.pid;
  }

  constructor(opts: NftExecOptions = {}) {
    // `2>&1`: errors and the marker's echo must arrive in order on one pipe.
    this.argv = place(opts, ['sh', '-c', 'exec "$0" -i 2>&1', opts.nft ?? 'nft']);
    this.timeoutMs = opts.timeoutMs ?? 120_000;
  }

  /** Run `commands` (one line: commands separated by `;`) as one transaction. */
  run(commands: string): Promise<void> {
    if (commands.includes('\n')) return Promise.reject(new DriverError('nftables', 'a session transaction must be one line'));
    return this.queue.run(() => this.send(commands));
  }

  /** End the process (stdin closed: nft exits); resolves once it has. */
  async close(): Promise<void> {
    await this.queue.idle();
    const p = this.proc;
    if (!p) return;
    this.proc = undefined;
    await new Promise<void>((resolve) => {
      if (p.exitCode !== null || p.signalCode !== null) return resolve();
      p.once('close', () => resolve());
      this.hold(p);
      p.stdin.end();
      setTimeout(() => p.kill('SIGKILL'), 2000).unref();
    });
  }

  private start(): ChildProcessWithoutNullStreams {
    const p = spawn(this.argv[0]!, this.argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'] });
    this.spawned++;
    this.buf = '';
    p.stdout.setEncoding('utf8');
    p.stdout.on('data', (d: string) => {
      this.buf += d;
      this.settle();
    });
    let stderr = '';
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    p.stdin.on('error', () => undefined);
    p.on('error', (e) => this.fail(p, `cannot run ${this.argv.join(' ')}: ${e.message}`));
    p.on('close', (code, sig) => this.fail(p, `nft session exited (${sig ?? `exit ${code}`}): ${(stderr + this.buf).trim().slice(0, 500)}`));
    this.idle(p);
    return p;
  }

  private send(commands: string): Promise<void> {
    const p = this.proc ?? (this.proc = this.start());
    const tag = `: sxsync ${++this.seq}`;
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.fail(p, `nft session gave no answer within ${this.timeoutMs} ms`);
        p.kill('SIGKILL');
      }, this.timeoutMs);
      this.pending = { tag, resolve, reject, timer };
      this.hold(p);
      p.stdin.write(`${commands}\n${tag}\n`);
    });
  }

  /** The marker echoed, with its caret line: everything before its error header is the answer. */
  private settle(): void {
    const w = this.pending;
    if (!w) return;
    let at = 0;
    if (!this.buf.startsWith(`${w.tag}\n`)) {
      const i = this.buf.indexOf(`\n${w.tag}\n`);
      if (i < 0) return;
      at = i + 1;
    }
    const end = this.buf.indexOf('\n', at + w.tag.length + 1);
    if (end < 0) return;
    const header = at === 0 ? 0 : this.buf.lastIndexOf('\n', at - 2) + 1;
    const answer = this.buf.slice(0, header).trim();
    this.buf = this.buf.slice(end + 1);
    this.pending = undefined;
    clearTimeout(w.timer);
    if (this.proc) this.idle(this.proc);
    if (/\bError\b/.test(answer)) w.reject(new DriverError('nftables', `nft transaction failed: ${answer.slice(0, 2000)}`));
    else w.resolve();
  }

  /** A session with a transaction in flight (or closing) keeps the process alive. */
  private hold(p: ChildProcessWithoutNullStreams): void {
    for (const s of [p, p.stdin, p.stdout, p.stderr]) (s as { ref?: () => void }).ref?.();
  }

  /** An idle session does not keep the process alive. */
  private idle(p: ChildProcessWithoutNullStreams): void {
    for (const s of [p, p.stdin, p.stdout, p.stderr]) (s as { unref?: () => void }).unref?.();
  }

  private fail(p: ChildProcessWithoutNullStreams, message: string): void {
    if (this.proc === p) this.proc = undefined;
    const w = this.pending;
    if (!w) return;
    this.pending = undefined;
    clearTimeout(w.timer);
    w.reject(new DriverError('nftables', message));
  }
}
