/**
 * The engine's snapshot store on the master's KvStore, in chunks: with 10,000 tasks the persisted
 * snapshot is several MB, over ZooKeeper's 1 MB per znode, so one value could not be saved and the
 * control plane stopped publishing versions. A save writes the JSON, base64, in chunks of at most
 * CHUNK_BYTES under `<key>-chunks/<id>/<n>`, then the head `<key>` = {chunked, id, count, version}
 * naming them, then deletes the previous chunks: a master killed in between leaves the old head and
 * its chunks whole (the new chunks are orphans, deleted at the next load). A head that is a plain
 * snapshot (written before chunking) loads as it is.
 */
import { randomBytes } from 'node:crypto';
import type { KvStore } from '../contracts/index.js';
import type { PersistedSnapshot, SnapshotStore } from './engine.js';

/** 600,000 bytes -> 800,000 base64 characters: under the ZooKeeper store's 1,000,000-byte values. */
export const CHUNK_BYTES = 600_000;

interface Head {
  chunked: 1;
  id: string;
  count: number;
  version: number;
}

const isHead = (v: unknown): v is Head => !!v && typeof v === 'object' && (v as Head).chunked === 1 && typeof (v as Head).id === 'string';

export function chunkedSnapshotStore(store: KvStore, key = 'control/snapshot', chunkBytes = CHUNK_BYTES): SnapshotStore {
  const dir = `${key}-chunks/`;
  const removeChunks = async (id: string, count: number) => {
    await Promise.all(Array.from({ length: count }, (_, n) => store.delete(`${dir}${id}/${n}`)));
  };
  return {
    async load() {
      const head = await store.get<PersistedSnapshot | Head>(key);
      // Orphans of a save that did not reach its head (and chunks a failed delete left).
      const listed = await store.list<string>(dir);
      const stale = new Map<string, number>();
      for (const [k] of listed) {
        const [id, n] = k.slice(dir.length).split('/');
        if (id && id !== (isHead(head) ? head.id : undefined)) stale.set(id, Math.max(stale.get(id) ?? 0, Number(n) + 1));
      }
      for (const [id, count] of stale) await removeChunks(id, count);
      if (!isHead(head)) return head;
      const parts = listed.filter(([k]) => k.startsWith(`${dir}${head.id}/`)).map(([k, v]) => [Number(k.slice(k.lastIndexOf('/') + 1)), v] as const);
      parts.sort((a, b) => a[0] - b[0]);
      if (parts.length !== head.count || parts.some(([n], i) => n !== i))
        throw new Error(`control snapshot ${key}: ${parts.length} of ${head.count} chunks of ${head.id} in the store`);
      return JSON.parse(Buffer.concat(parts.map(([, v]) => Buffer.from(v, 'base64'))).toString('utf8')) as PersistedSnapshot;
    },
    async save(s) {
      const data = Buffer.from(JSON.stringify(s));
      const id = `${s.version}-${randomBytes(4).toString('hex')}`;
      const count = Math.max(1, Math.ceil(data.length / chunkBytes));
      await Promise.all(Array.from({ length: count }, (_, n) => store.put(`${dir}${id}/${n}`, data.subarray(n * chunkBytes, (n + 1) * chunkBytes).toString('base64'))));
      const before = await store.get<PersistedSnapshot | Head>(key);
      const head: Head = { chunked: 1, id, count, version: s.version };
      await store.put(key, head);
      if (isHead(before) && before.id !== id) await removeChunks(before.id, before.count).catch(() => undefined);
    },
  };
}
