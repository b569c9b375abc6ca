/**
 * The ZooKeeper store: one znode per key under `<chroot>/kv`, the key's `/`-separated segments
 * mapped to a znode path (each segment URI-encoded, `.` as `%2E` so `.` and `..` cannot occur, the
 * empty segment as `%`), the value as JSON text in the znode's data. A znode with no data is only
 * a parent (a key can have both a value and keys below it: `a` and `a/b`). A write resolves once
 * ZooKeeper committed it. With a fence (the master's election), every write is a multi-op that
 * first `check`s the leader's own ephemeral election znode, so a master whose session expired (its
 * znode gone) cannot commit anything. Writes to one key are serialised in call order.
 *
 * Group commit: a put of a key whose znode is known to exist (listed, read or written by this store)
 * joins the open batch, sent as one fenced multi-op of `setData`s at the next turn of the event
 * loop, or once one of the MAX_BATCHES_IN_FLIGHT batches in flight is answered. Each put resolves
 * only after its batch committed. A batch refused for one of its ops (a znode deleted meanwhile)
 * committed nothing: its puts are then written one by one. A new leader's 100 re-registrations
 * become a few multi-ops instead of 100 (docs/benchmarks/ha.md).
 */
import type zookeeper from 'node-zookeeper-client';
import type { KvStore } from '../../contracts/index.js';
import { LeaseUnverifiedError, NotLeaderError, StoreCorruptError, StoreUnavailableError, StoreValueTooLargeError } from '../errors.js';
import { ZK, zkCode, type ZkSession } from '../zk/session.js';

/** ZooKeeper's jute.maxbuffer is 1 MiB - 1 for a whole request: keep room for the path and the check op. */
export const DEFAULT_MAX_VALUE_BYTES = 1_000_000;

/** What a write is conditional on: the znode to `check`, or a throw (NotLeaderError) to refuse. */
export interface Fence {
  guard(): string;
  /** After guard() threw LeaseUnverifiedError: ask ZooKeeper (bounded in time) so guard() may pass again. */
  renew?(): Promise<void>;
}

/** Batches sent and not yet answered; further puts wait in the open batch. */
export const MAX_BATCHES_IN_FLIGHT = 2;
/** A batch holds at most this many puts and this many bytes of values (a request is at most 1 MiB). */
export const MAX_BATCH_OPS = 200;
export const MAX_BATCH_BYTES = 512 * 1024;

interface Queued {
  path: string;
  data: Buffer;
  t0: number;
  resolve: () => void;
  reject: (e: unknown) => void;
}

export interface ZkStoreOptions {
  /** Values larger than this (bytes of JSON) are refused with StoreValueTooLargeError. */
  maxValueBytes?: number;
  fence?: Fence;
  /** Concurrent reads while listing (bounds memory and the server's queue). */
  listConcurrency?: number;
  /** An operation not answered in this time fails with StoreUnavailableError (default: the session timeout). */
  opTimeoutMs?: number;
}

export class ZkKvStore implements KvStore {
  readonly root: string;
  readonly maxValueBytes: number;
  fence?: Fence;
  private readonly chains = new Map<string, Promise<void>>();
  /** Znode paths known to exist (a put of one is batched). */
  private readonly known = new Set<string>();
  private queued: Queued[] = [];
  private inFlight = 0;
  private kicked = false;
  /** Called after each committed write (metrics). */
  onWrite?: (seconds: number) => void;
  /** Multi-ops sent for batched puts, and the puts they carried (tests, metrics). */
  readonly batches = { sent: 0, puts: 0 };

  constructor(
    private readonly zk: ZkSession,
    chroot: string,
    private readonly o: ZkStoreOptions = {},
  ) {
    this.root = `${chroot === '/' ? '' : chroot.replace(/\/+$/, '')}/kv`;
    this.maxValueBytes = o.maxValueBytes ?? DEFAULT_MAX_VALUE_BYTES;
    if (o.fence) this.fence = o.fence;
  }

  /** Create the root znodes (idempotent). */
  async open(): Promise<void> {
    await this.wrap('open', () => this.zk.mkdirp(this.root));
  }

  /** The znode path of a key. */
  pathOf(key: string): string {
    return `${this.root}/${key.split('/').map(encodeSegment).join('/')}`;
  }

  async get<T = unknown>(key: string): Promise<T | undefined> {
    const path = this.pathOf(key);
    const r = await this.wrap(`get ${key}`, () => this.zk.getData(path).catch(noNode(undefined)));
    if (r) this.known.add(path);
    return r ? parse<T>(path, r.data) : undefined;
  }

  async list<T = unknown>(prefix: string): Promise<[string, T][]> {
    const cut = prefix.lastIndexOf('/');
    const dirSegs = cut < 0 ? [] : prefix.slice(0, cut).split('/');
    const rest = prefix.slice(cut + 1);
    const dir = dirSegs.length ? this.pathOf(dirSegs.join('/')) : this.root;
    const names = await this.wrap(`list ${prefix}`, () => this.zk.children(dir).catch(noNode([] as string[])));
    const out: [string, T][] = [];
    let level = names.filter((n) => decodeSegment(n).startsWith(rest)).map((n) => ({ path: `${dir}/${n}`, key: [...dirSegs, decodeSegment(n)].join('/') }));
    const width = this.o.listConcurrency ?? 500;
    while (level.length) {
      const next: typeof level = [];
      for (let i = 0; i < level.length; i += width) {
        const batch = level.slice(i, i + width);
        const got = await this.wrap(`list ${prefix}`, () => Promise.all(batch.map((n) => this.readNode(n.path))));
        got.forEach((g, j) => {
          const n = batch[j]!;
          if (g.data) out.push([n.key, parse<T>(n.path, g.data) as T]);
          for (const c of g.children) next.push({ path: `${n.path}/${c}`, key: `${n.key}/${decodeSegment(c)}` });
        });
      }
      level = next;
    }
    return out.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  }

  put(key: string, value: unknown): Promise<void> {
    const text = JSON.stringify(value);
    if (text === undefined) return Promise.reject(new TypeError(`store: value for ${key} is not JSON`));
    const data = Buffer.from(text);
    if (data.length > this.maxValueBytes) return Promise.reject(new StoreValueTooLargeError(key, data.length, this.maxValueBytes));
    const path = this.pathOf(key);
    return this.enqueue(key, () => this.wrap(`put ${key}`, () => (this.known.has(path) ? this.batched(path, data) : this.write(path, data))));
  }

  delete(key: string): Promise<void> {
    const path = this.pathOf(key);
    return this.enqueue(key, () => {
      this.known.delete(path);
      return this.wrap(`delete ${key}`, () => this.remove(path));
    });
  }

  /** Wait for every write in flight. */
  async flush(): Promise<void> {
    await Promise.allSettled([...this.chains.values()]);
  }

  // ---- internals ----

  private async readNode(path: string): Promise<{ data?: Buffer; children: string[] }> {
    const sent = Date.now();
    const got = await new Promise<{ data?: Buffer; numChildren: number } | undefined>((resolve, reject) =>
      this.zk.client.getData(path, (e, data, stat) => {
        this.zk.answered(sent, e);
        if (e) return zkCode(e) === ZK.NO_NODE ? resolve(undefined) : reject(e);
        resolve({ ...(data?.length ? { data } : {}), numChildren: stat.numChildren });
      }),
    );
    if (!got) return { children: [] }; // deleted since the parent was listed
    this.known.add(path);
    const children = got.numChildren ? await this.zk.children(path).catch(noNode([] as string[])) : [];
    return { ...(got.data ? { data: got.data } : {}), children };
  }

  /** The fence's znode; a lease not verified lately (the event loop was busy) is renewed once by asking ZooKeeper. */
  private async guarded(): Promise<string | undefined> {
    const f = this.fence;
    if (!f) return undefined;
    try {
      return f.guard();
    } catch (e) {
      if (!(e instanceof LeaseUnverifiedError) || !f.renew) throw e;
      await f.renew();
      return f.guard();
    }
  }

  /** One fenced multi-op; returns the index of the failing op with its code, or undefined on commit. */
  private async commit(ops: (tx: zookeeper.Transaction) => void): Promise<{ op: number; code: number } | undefined> {
    const check = await this.guarded(); // throws NotLeaderError: nothing sent
    const tx = this.zk.client.transaction();
    const sent = Date.now();
    if (check) tx.check(check);
    ops(tx);
    return new Promise((resolve, reject) =>
      tx.commit((e, results: { err?: number }[] | undefined) => {
        this.zk.answered(sent, e);
        if (!e) return resolve(undefined);
        const idx = results?.findIndex((r) => r.err !== undefined && r.err !== 0 && r.err !== ZK.RUNTIME_INCONSISTENCY) ?? -1;
        if (idx < 0) return reject(e); // connection loss, session expired: nothing known to have failed per op
        const op = check ? idx - 1 : idx;
        if (op < 0) return reject(new NotLeaderError(`not the leader: election znode ${check} is gone (session expired); write refused`));
        resolve({ op, code: zkCode(e) ?? results![idx]!.err! });
      }),
    );
  }

  /** A put of an existing znode: joins the open batch; resolves once its batch committed. */
  private batched(path: string, data: Buffer): Promise<void> {
    return new Promise((resolve, reject) => {
      this.queued.push({ path, data, t0: performance.now(), resolve, reject });
      this.kick();
    });
  }

  private kick(): void {
    if (this.kicked) return;
    this.kicked = true;
    setImmediate(() => {
      this.kicked = false;
      this.drain();
    });
  }

  /** Send the open puts as batches while fewer than MAX_BATCHES_IN_FLIGHT are in flight. */
  private drain(): void {
    while (this.queued.length && this.inFlight < MAX_BATCHES_IN_FLIGHT) {
      let bytes = 0;
      let n = 0;
      while (n < this.queued.length && n < MAX_BATCH_OPS && (n === 0 || bytes + this.queued[n]!.data.length <= MAX_BATCH_BYTES)) bytes += this.queued[n++]!.data.length;
      const items = this.queued.splice(0, n);
      this.inFlight++;
      void this.commitBatch(items).finally(() => {
        this.inFlight--;
        this.drain();
      });
    }
  }

  private async commitBatch(items: Queued[]): Promise<void> {
    let failed: { op: number; code: number } | undefined;
    try {
      this.batches.sent++;
      this.batches.puts += items.length;
      failed = await this.commit((tx) => {
        for (const i of items) tx.setData(i.path, i.data);
      });
    } catch (e) {
      for (const i of items) i.reject(e); // not the leader, connection lost: as for a single write
      return;
    }
    if (!failed) {
      for (const i of items) {
        this.done(i.t0);
        i.resolve();
      }
      return;
    }
    // Nothing committed (a multi-op is all or nothing): each put on its own (creates what is gone).
    this.known.delete(items[failed.op]?.path ?? '');
    await Promise.all(items.map((i) => this.write(i.path, i.data, i.t0).then(i.resolve, i.reject)));
  }

  private async write(path: string, data: Buffer, t0 = performance.now()): Promise<void> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const set = await this.commit((tx) => tx.setData(path, data));
      if (!set) {
        this.known.add(path);
        return this.done(t0);
      }
      if (set.code !== ZK.NO_NODE) throw new Error(`setData ${path} failed (ZooKeeper code ${set.code})`);
      const parent = path.slice(0, path.lastIndexOf('/'));
      if (parent !== this.root) await this.zk.mkdirp(parent); // empty parents carry no value
      const made = await this.commit((tx) => tx.create(path, data, this.zk.acl));
      if (!made) {
        this.known.add(path);
        return this.done(t0);
      }
      if (made.code !== ZK.NODE_EXISTS) throw new Error(`create ${path} failed (ZooKeeper code ${made.code})`);
    }
    throw new Error(`write ${path} raced with concurrent creates/deletes 5 times`);
  }

  private async remove(path: string): Promise<void> {
    const r = await this.commit((tx) => tx.remove(path));
    if (!r || r.code === ZK.NO_NODE) return;
    if (r.code !== ZK.NOT_EMPTY) throw new Error(`remove ${path} failed (ZooKeeper code ${r.code})`);
    // Keys live below it: keep the znode as a parent, drop its value.
    const e = await this.commit((tx) => tx.setData(path, Buffer.alloc(0)));
    if (e && e.code !== ZK.NO_NODE) throw new Error(`clear ${path} failed (ZooKeeper code ${e.code})`);
  }

  private done(t0: number): void {
    this.onWrite?.((performance.now() - t0) / 1000);
  }

  /** ZooKeeper connection errors become StoreUnavailableError naming the operation and the cause. */
  private async wrap<T>(what: string, fn: () => Promise<T>): Promise<T> {
    const ms = this.o.opTimeoutMs ?? this.zk.sessionTimeoutMs;
    // Disconnected: wait (within the op timeout) for the same session to come back before refusing.
    const waitMs = Math.floor(ms / 2);
    if (this.zk.state !== 'connected' && !(await this.zk.whenConnected(waitMs)))
      throw new StoreUnavailableError(`ZooKeeper quorum unavailable: store ${what}: ZooKeeper session ${this.zk.state} (no quorum reachable in ${waitMs} ms); nothing sent`);
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new StoreUnavailableError(`ZooKeeper quorum unavailable: store ${what}: no answer from ZooKeeper in ${ms} ms (session ${this.zk.state}; a write may or may not have committed)`)), ms);
    });
    try {
      return await Promise.race([fn(), late]);
    } catch (e) {
      if (e instanceof NotLeaderError || e instanceof StoreCorruptError || e instanceof StoreUnavailableError) throw e;
      const code = zkCode(e);
      if (code === ZK.CONNECTION_LOSS || code === ZK.SESSION_EXPIRED || code === ZK.OPERATION_TIMEOUT || (e as Error).message === 'ZooKeeper session not open')
        throw new StoreUnavailableError(`ZooKeeper quorum unavailable: store ${what}: ZooKeeper ${String(e)} (no quorum or session lost; a write may or may not have committed)`, { cause: e });
      throw e;
    } finally {
      clearTimeout(timer);
    }
  }

  private enqueue(key: string, op: () => Promise<void>): Promise<void> {
    const prev = this.chains.get(key) ?? Promise.resolve();
    const next = prev.then(op, op);
    this.chains.set(key, next);
    const done = () => {
      if (this.chains.get(key) === next) this.chains.delete(key);
    };
    next.then(done, done);
    return next;
  }
}

function encodeSegment(s: string): string {
  return s === '' ? '%' : encodeURIComponent(s).replace(/\./g, '%2E');
}

function decodeSegment(s: string): string {
  return s === '%' ? '' : decodeURIComponent(s);
}

function parse<T>(path: string, data: Buffer | undefined): T | undefined {
  if (!data?.length) return undefined;
  try {
    return JSON.parse(data.toString()) as T;
  } catch (e) {
    throw new StoreCorruptError(`zk:${path}`, `not JSON: ${(e as Error).message}`);
  }
}

function noNode<T>(v: T): (e: unknown) => T {
  return (e) => {
    if (zkCode(e) === ZK.NO_NODE) return v;
    throw e;
  };
}
