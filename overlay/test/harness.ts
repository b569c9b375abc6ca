/**
 * Test doubles for the master side: an in-memory KvStore and a MasterHandle whose agents the test
 * sets by hand, plus a snapshot built from the overlay's PartSources (what the control plane does).
 */
import { createRegistry, Router, serve } from '../../common/index.js';
import { OverlayMaster, type OverlayMasterOptions } from '../index.js';
import { DEFAULT_OVERLAY } from '../../contracts/index.js';
import { bridgeNamespaces, createNetns, type Netns } from '../../test/lib/index.js';
import type { KvStore, MasterHandle } from '../../contracts/index.js';
import type { OverlayConfig, PartSource, Snapshot, SnapshotParts } from '../../contracts/index.js';

export class MemStore implements KvStore {
  readonly data = new Map<string, string>();
  async get<T>(key: string): Promise<T | undefined> {
    const v = this.data.get(key);
    return v === undefined ? undefined : (JSON.parse(v) as T);
  }
  async put(key: string, value: unknown): Promise<void> {
    this.data.set(key, JSON.stringify(value));
  }
  async delete(key: string): Promise<void> {
    this.data.delete(key);
  }
  async list<T>(prefix: string): Promise<[string, T][]> {
    return [...this.data.entries()].filter(([k]) => k.startsWith(prefix)).sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, v]) => [k, JSON.parse(v) as T]);
  }
}

export class FakeMaster implements MasterHandle {
  readonly masterId = 'test-master';
  readonly ip = '127.0.0.1';
  readonly port = 5050;
  readonly router = new Router();
  readonly registry = createRegistry();
  slaves: { id: string; pid: string; active: boolean }[] = [];
  tasks: Record<string, unknown>[] = [];
  private fns = new Set<() => void>();
  constructor(readonly store: KvStore = new MemStore()) {}
  state(): Record<string, unknown> {
    return { slaves: this.slaves, frameworks: [{ id: 'marathon', tasks: this.tasks }] };
  }
  onChange(fn: () => void): () => void {
    this.fns.add(fn);
    return () => this.fns.delete(fn);
  }
  changed(): void {
    for (const f of this.fns) f();
  }
  routes(register: (router: Router) => void): void {
    register(this.router);
  }
  setAgents(agents: { id: string; ip: string }[]): void {
    this.slaves = agents.map((a) => ({ id: a.id, pid: `slave(1)@${a.ip}:5051`, active: true }));
    this.changed();
  }
}

let version = 0;
export async function snapshotOf(sources: PartSource[], overlay: OverlayConfig): Promise<Snapshot> {
  const parts: SnapshotParts = { vips: [], zones: [], networks: [], overlay_agents: [], isolation_rules: [], network_policies: [], masters: [] };
  for (const s of sources) (parts as unknown as Record<string, unknown>)[s.part] = await s.entries();
  return { history: 'test', version: ++version, overlay, parts };
}

/** An OverlayMaster on a FakeMaster, its API served on loopback; stopped on teardown. */
export async function serveOverlayMaster(t: { teardown(fn: () => unknown): void }, store = new MemStore(), opts: OverlayMasterOptions = {}) {
  const m = new FakeMaster(store);
  const master = new OverlayMaster(m, opts);
  await master.start();
  const srv = await serve(m.router, { host: '127.0.0.1', port: 0 });
  t.teardown(async () => {
    await srv.close();
    await master.stop();
  });
  return { store, m, master, url: `http://127.0.0.1:${srv.address().port}` };
}

/**
 * `n` agent namespaces (`<kind><i>`) on an underlay bridge (`<base>.<i+1>`) and a started
 * OverlayMaster over a FakeMaster, stopped on teardown: the setup every overlay e2e test shares.
 */
export async function overlayUnderlay(
  t: { teardown(fn: () => unknown): void },
  n: number,
  kind: string,
  base: string,
  opts: OverlayMasterOptions = { config: DEFAULT_OVERLAY },
): Promise<{ nss: Netns[]; addrs: string[]; m: FakeMaster; master: OverlayMaster }> {
  const nss: Netns[] = [];
  for (let i = 0; i < n; i++) nss.push(await createNetns(t, `${kind}${i}`));
  const { addrs } = await bridgeNamespaces(t, nss, base);
  const m = new FakeMaster();
  const master = new OverlayMaster(m, opts);
  await master.start();
  t.teardown(() => master.stop());
  return { nss, addrs, m, master };
}

/** The first agent's VTEP with the default config, as `ip -d link` / `ip addr` show it. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- tap's Test type (generic plugins) does not fit a structural type
export async function matchFirstVtep(t: { match: (...a: any[]) => unknown }, ns: Netns): Promise<void> {
  const link = await ns.ip('-d', 'link', 'show', 'vtep1024');
  for (const want of [/vxlan id 1024/, /dstport 64000/, /nolearning/, /link\/ether 70:b3:d5:80:00:01/, /mtu 1450/]) t.match(link, want, `vtep1024: ${want.source}`);
  t.match(await ns.ip('addr', 'show', 'vtep1024'), /inet 44\.128\.0\.1\/20/, 'vtep1024 address');
}
