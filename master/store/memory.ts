import type { KvStore } from '../../contracts/index.js';

/** An in-memory KvStore with the same semantics (values are copied in and out). */
export class MemoryKvStore implements KvStore {
  private readonly data = new Map<string, string>();
  writes = 0;

  async get<T = unknown>(key: string): Promise<T | undefined> {
    const v = this.data.get(key);
    return v === undefined ? undefined : (JSON.parse(v) as T);
  }
  async put(key: string, value: unknown): Promise<void> {
    const text = JSON.stringify(value);
    if (text === undefined) throw new TypeError(`store: value for ${key} is not JSON`);
    this.writes++;
    this.data.set(key, text);
  }
  async delete(key: string): Promise<void> {
    this.data.delete(key);
  }
  async list<T = unknown>(prefix: string): Promise<[string, T][]> {
    return [...this.data.keys()]
      .filter((k) => k.startsWith(prefix))
      .sort()
      .map((k) => [k, JSON.parse(this.data.get(k)!) as T]);
  }
}
