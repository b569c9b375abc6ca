/**
 * A driver run by fixtures/driver-host.ts inside a test's network namespace, seen as an L4lbDriver:
 * each call is one JSON line to the child and its answer back. The child is stopped on teardown.
 */
import { fileURLToPath } from 'node:url';
import readline from 'node:readline';
import type { ApplyResult, L4lbDriver, Service } from '../driver.js';
import { spawnTracked, type Netns, type Tracked } from '../../test/lib/index.js';

const HOST = fileURLToPath(new URL('./fixtures/driver-host.ts', import.meta.url));

export class RemoteDriver implements L4lbDriver {
  private child?: Tracked;
  private next = 1;
  private readonly waiting = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();

  constructor(
    readonly name: 'userspace',
    private readonly t: { teardown(fn: () => unknown): void },
    private readonly ns: Netns,
  ) {}

  async available(): Promise<{ ok: true }> {
    return { ok: true };
  }

  async start(): Promise<void> {
    const [cmd, args] = this.ns.wrap(process.execPath, ['--import', 'tsx', HOST, this.name]);
    const child = spawnTracked(this.t, cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    this.child = child;
    readline.createInterface({ input: child.child.stdout! }).on('line', (line) => {
      if (!line.startsWith('{"id"')) return;
      const res = JSON.parse(line) as { id: number; ok: boolean; result?: unknown; error?: string };
      const w = this.waiting.get(res.id);
      this.waiting.delete(res.id);
      if (res.ok) w?.resolve(res.result);
      else w?.reject(new Error(`${this.name} driver in ${this.ns.name}: ${res.error}`));
    });
    void child.exited.then((code) => {
      for (const w of this.waiting.values()) w.reject(new Error(`driver host exited (${code}):\n${child.output().slice(-2000)}`));
      this.waiting.clear();
    });
    await child.waitFor(/\{"ready":true\}/, 60_000);
  }

  private call<T>(op: string, services?: Service[]): Promise<T> {
    const id = this.next++;
    return new Promise<T>((resolve, reject) => {
      this.waiting.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.child!.child.stdin!.write(`${JSON.stringify({ id, op, services })}\n`);
    });
  }

  apply(desired: Service[]): Promise<ApplyResult> {
    return this.call('apply', desired);
  }
  reconcile(desired: Service[]): Promise<ApplyResult> {
    return this.call('reconcile', desired);
  }
  dump(): Promise<Service[]> {
    return this.call('dump');
  }
  async stop(): Promise<void> {
    if (!this.child || this.child.child.exitCode !== null) return;
    await this.call('stop');
    await this.child.exited;
  }
}
