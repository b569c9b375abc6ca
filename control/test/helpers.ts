/** Test helpers for the control plane: settable sources, recording consumers, loopback servers. */
import { eventually } from '../../test/lib/index.js';
import type { ControlStatus } from '../agents.js';
import type { Component } from '../../common/daemon.js';
import { createLogger } from '../../common/log.js';
import type { PersistedSnapshot, SnapshotStore } from '../engine.js';
import { ControlClient, type ClientState, type ControlClientOptions } from '../client.js';
import { ControlServer, type ControlServerOptions } from '../server.js';
import type { PartName, PartSource, Snapshot, SnapshotConsumer, SnapshotParts, Vip } from '../../contracts/index.js';

/** A PartSource whose entries the test sets. */
export class SettableSource<P extends PartName> implements PartSource<P> {
  private fns = new Set<() => void>();
  calls = 0;
  constructor(
    readonly part: P,
    private list: SnapshotParts[P] = [] as unknown as SnapshotParts[P],
  ) {}
  set(list: SnapshotParts[P]): void {
    this.list = list;
    for (const f of this.fns) f();
  }
  entries(): SnapshotParts[P] {
    this.calls++;
    return this.list;
  }
  onChange(fn: () => void): () => void {
    this.fns.add(fn);
    return () => this.fns.delete(fn);
  }
}

/** Records every view it is given; fails while `failWith` is set. */
export class RecordingConsumer implements SnapshotConsumer {
  views: Snapshot[] = [];
  failWith: string | undefined;
  constructor(
    readonly name: string,
    readonly parts: PartName[],
    private readonly order?: string[],
  ) {}
  async apply(view: Snapshot): Promise<void> {
    this.order?.push(this.name);
    if (this.failWith) throw new Error(this.failWith);
    this.views.push(view);
  }
  get last(): Snapshot | undefined {
    return this.views[this.views.length - 1];
  }
}

export function vip(name: string, ip: string, backends: [string, number][]): Vip {
  return {
    key: `tcp/${ip}:80`,
    name: `/${name}`,
    framework: 'marathon',
    dns_name: `${name}.marathon.l4lb.thisdcos.directory`,
    ip,
    port: 80,
    protocol: 'tcp',
    backends: backends.map(([bip, port]) => ({ ip: bip, port, weight: 1, task_id: `${name}.${bip}.${port}`, agent_id: 'a1' })),
  };
}

export class MemoryStore implements SnapshotStore {
  saved: PersistedSnapshot | undefined;
  saves = 0;
  async load(): Promise<PersistedSnapshot | undefined> {
    return this.saved && structuredClone(this.saved);
  }
  async save(s: PersistedSnapshot): Promise<void> {
    this.saves++;
    this.saved = structuredClone(s);
  }
}

interface Teardownable {
  teardown(fn: () => unknown): void;
}

export const quietLog = createLogger('control-test');

function stopOnTeardown<C extends Component>(t: Teardownable, c: C): C {
  t.teardown(() => c.stop());
  return c;
}

export async function startServer(t: Teardownable, opts: ControlServerOptions = {}): Promise<ControlServer> {
  const s = stopOnTeardown(t, new ControlServer({ host: '127.0.0.1', port: 0, coalesceMs: 5, log: quietLog, ...opts }));
  await s.start();
  return s;
}

export async function startClient(t: Teardownable, opts: ControlClientOptions): Promise<ControlClient> {
  const c = stopOnTeardown(t, new ControlClient({ backoff: { initialMs: 20, maxMs: 200 }, log: quietLog, ...opts }));
  await c.start();
  return c;
}

/** Resolve when the client's state satisfies `pred` (checked now and after every ACK/NACK). */
export function clientReaches(c: ControlClient, pred: (s: ClientState) => boolean, what: string, timeoutMs = 5000): Promise<ClientState> {
  return new Promise((resolve, reject) => {
    const check = (s: ClientState) => {
      if (!pred(s)) return false;
      off();
      clearTimeout(timer);
      resolve(s);
      return true;
    };
    const off = c.onState(check);
    const timer = setTimeout(() => {
      off();
      reject(new Error(`timed out waiting for ${what}; state ${JSON.stringify(c.state())}`));
    }, timeoutMs);
    check(c.state());
  });
}

/** Wait until the server's status satisfies `pred` (ACKs arrive asynchronously). */
export function serverSees(server: ControlServer, pred: (s: ControlStatus) => boolean, what: string, timeoutMs = 5000): Promise<ControlStatus> {
  return eventually(() => {
    const s = server.status();
    return pred(s) ? s : undefined;
  }, timeoutMs, 10, what);
}
