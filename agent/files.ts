/**
 * `GET /files/read?path=P&offset=N&length=N` as Mesos agents answer it: `{data, offset}` from a
 * file in a task sandbox: P is the `directory` of an executor in `/state` plus `stdout` or
 * `stderr`, or the same below the sandboxes dir, `/<task_id>/stdout` (what the dashboard and
 * `sextant task log` ask). Read-only, and only inside the agent's sandboxes: the path is resolved
 * (symlinks included) and must be a regular file below `<work dir>/sandboxes/`, checked again on
 * the opened file itself (its /proc/self/fd link), so a task that swaps a file for a symlink
 * between check and open reads nothing else; the open is O_NONBLOCK, so a FIFO cannot hang the
 * API. `offset=-1` answers the size with no data (how a log viewer finds the end). At most 1 MiB
 * per call, and `data` never ends inside a UTF-8 character, so a client's next offset is
 * `offset + Buffer.byteLength(data)`.
 */
import { constants } from 'node:fs';
import { open, readlink, realpath, type FileHandle } from 'node:fs/promises';
import { isAbsolute, join, sep } from 'node:path';
import { NotFoundError, ValidationError } from '../common/errors.js';
import type { Router } from '../common/http.js';

export const MAX_READ = 1 << 20;

function intParam(q: URLSearchParams, name: string, fallback: number, min: number): number {
  const v = q.get(name);
  if (v === null || v === '') return fallback;
  const n = Number(v);
  if (!/^-?\d+$/.test(v) || !Number.isSafeInteger(n) || n < min) throw new ValidationError([{ path: name, errors: [`must be an integer >= ${min}, got '${v}'`] }]);
  return n;
}

/** Bytes up to the last complete UTF-8 character (a tail of 1-3 bytes of a started sequence is left for the next read). */
export function completeUtf8(b: Buffer): Buffer {
  for (let back = 1; back <= Math.min(3, b.length); back++) {
    const c = b[b.length - back]!;
    if ((c & 0xc0) === 0x80) continue; // continuation byte: look further back for the lead
    const need = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
    return need > back ? b.subarray(0, b.length - back) : b;
  }
  return b;
}

/** Reads `length` bytes at `offset` from `path`, if it is a file below `root` (the sandboxes dir). */
export async function readSandboxFile(root: string, path: string, offset: number, length: number): Promise<{ data: string; offset: number }> {
  if (!isAbsolute(path) || path.includes('\0')) throw new ValidationError([{ path: 'path', errors: [`must be an absolute path (a sandbox directory from /state plus a file name, or /<task_id>/<file>), got '${path}'`] }]);
  let real: string;
  let base: string;
  try {
    base = await realpath(root);
    real = await realpath(path.startsWith(root + sep) || path.startsWith(base + sep) ? path : join(root, path));
  } catch {
    throw new NotFoundError(`no file '${path}'`);
  }
  const outside = () => new NotFoundError(`'${path}' is not in a task sandbox of this agent`);
  if (!real.startsWith(base + sep)) throw outside();
  let fh: FileHandle;
  try {
    fh = await open(real, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY | constants.O_NOFOLLOW);
  } catch {
    throw new NotFoundError(`no file '${path}'`);
  }
  try {
    if (!(await readlink(`/proc/self/fd/${fh.fd}`).catch(() => '')).startsWith(base + sep)) throw outside();
    const st = await fh.stat();
    if (!st.isFile()) throw new NotFoundError(`'${path}' is not a file`);
    if (offset === -1) return { data: '', offset: st.size };
    const n = Math.max(0, Math.min(length, MAX_READ, st.size - offset));
    if (n === 0) return { data: '', offset };
    const buf = Buffer.alloc(n);
    const { bytesRead } = await fh.read(buf, 0, n, offset);
    return { data: completeUtf8(buf.subarray(0, bytesRead)).toString('utf8'), offset };
  } finally {
    await fh.close();
  }
}

export function mountFiles(router: Router, sandboxes: () => string): void {
  const spec = { summary: "read part of a file in a task's sandbox (Mesos format: {data, offset}; offset=-1 gives the size)", query: { path: 'absolute path inside a sandbox, or /<task_id>/<file>', offset: 'byte offset (-1: size only)', length: `bytes (at most ${MAX_READ})` } };
  const handler = async (req: { query: URLSearchParams }) => {
    const path = req.query.get('path');
    if (!path) throw new ValidationError([{ path: 'path', errors: ['is required'] }]);
    const offset = intParam(req.query, 'offset', 0, -1);
    const length = intParam(req.query, 'length', MAX_READ, 0);
    return { json: await readSandboxFile(sandboxes(), path, offset, length) };
  };
  router.get('/files/read', handler, spec);
  router.get('/files/read.json', handler, spec);
}
