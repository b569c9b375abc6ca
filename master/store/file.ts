/**
 * The embedded file store: one file per key under `<workDir>/store`, each written as
 * write tmp -> fsync -> rename -> fsync(dir), so a kill -9 at any moment leaves either the old or
 * the new value, never a torn one. Everything is read at open(); a file that does not parse is a
 * StoreCorruptError naming it (never skipped). Writes to one key are serialised in call order.
 */
import { mkdir, open, readdir, readFile, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { SerialQueue } from '../../common/serial-queue.js';
import type { KvStore } from '../../contracts/index.js';
import { StoreCorruptError } from '../errors.js';

const TMP = '.tmp-';

export interface StoreStats {
  writes: number;
  deletes: number;
  writeSeconds: number;
}

export class FileKvStore implements KvStore {
  readonly dir: string;
  private readonly cache = new Map<string, string>();
  /** One queue per key: writes of one key land in order, different keys in parallel. */
  private readonly queues = new Map<string, SerialQueue>();
  private opened = false;
  private seq = 0;
  readonly stats: StoreStats = { writes: 0, deletes: 0, writeSeconds: 0 };
  /** Called after each durable write (metrics). */
  onWrite?: (seconds: number) => void;

  constructor(workDir: string) {
    this.dir = join(workDir, 'store');
  }

  /** Create the directory, clear leftovers of interrupted writes and load every value. */
  async open(): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    for (const name of await readdir(this.dir)) {
      const path = join(this.dir, name);
      if (name.startsWith(TMP)) {
        await unlink(path).catch(() => undefined);
        continue;
      }
      const text = await readFile(path, 'utf8');
      try {
        JSON.parse(text);
      } catch (e) {
        throw new StoreCorruptError(path, text.length ? `not JSON: ${(e as Error).message}` : 'empty file');
      }
      this.cache.set(keyOf(name), text);
    }
    this.opened = true;
  }

  async get<T = unknown>(key: string): Promise<T | undefined> {
    this.check();
    const v = this.cache.get(key);
    return v === undefined ? undefined : (JSON.parse(v) as T);
  }

  async list<T = unknown>(prefix: string): Promise<[string, T][]> {
    this.check();
    return [...this.cache.keys()]
      .filter((k) => k.startsWith(prefix))
      .sort()
      .map((k) => [k, JSON.parse(this.cache.get(k)!) as T]);
  }

  put(key: string, value: unknown): Promise<void> {
    this.check();
    const text = JSON.stringify(value);
    if (text === undefined) return Promise.reject(new TypeError(`store: value for ${key} is not JSON`));
    this.cache.set(key, text);
    return this.enqueue(key, () => this.writeFile(key, text));
  }

  delete(key: string): Promise<void> {
    this.check();
    this.cache.delete(key);
    return this.enqueue(key, () => this.removeFile(key));
  }

  /** Wait for every write in flight. */
  async flush(): Promise<void> {
    await Promise.all([...this.queues.values()].map((q) => q.idle()));
  }

  private check(): void {
    if (!this.opened) throw new Error('FileKvStore used before open()');
  }

  private enqueue(key: string, op: () => Promise<void>): Promise<void> {
    let q = this.queues.get(key);
    if (!q) this.queues.set(key, (q = new SerialQueue()));
    const queue = q;
    const done = queue.run(op);
    const forget = () => {
      if (queue.size === 0 && this.queues.get(key) === queue) this.queues.delete(key);
    };
    done.then(forget, forget);
    return done;
  }


  private async writeFile(key: string, text: string): Promise<void> {
    const t0 = performance.now();
    const name = fileOf(key);
    const tmp = join(this.dir, `${TMP}${process.pid}-${++this.seq}-${name}`.slice(0, 250));
    const fh = await open(tmp, 'w');
    try {
      await fh.writeFile(text);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, join(this.dir, name));
    await this.syncDir();
    const secs = (performance.now() - t0) / 1000;
    this.stats.writes++;
    this.stats.writeSeconds += secs;
    this.onWrite?.(secs);
  }

  private async removeFile(key: string): Promise<void> {
    await unlink(join(this.dir, fileOf(key))).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'ENOENT') throw e;
    });
    await this.syncDir();
    this.stats.deletes++;
  }

  private async syncDir(): Promise<void> {
    const dh = await open(this.dir, 'r');
    try {
      await dh.sync();
    } finally {
      await dh.close();
    }
  }
}

/** Keys are arbitrary strings; file names are their URI encoding (`/` -> `%2F`). */
export function fileOf(key: string): string {
  const enc = encodeURIComponent(key).replace(/\./g, '%2E');
  if (Buffer.byteLength(enc) > 240) throw new Error(`store key too long: ${key.slice(0, 60)}...`);
  return enc;
}

export function keyOf(file: string): string {
  return decodeURIComponent(file);
}
