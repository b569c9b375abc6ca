/**
 * `GET /files/read?path=P&offset=N&length=N` as Mesos agents answer it: `{data, offset}` from a
 * file in a task sandbox: P is the `directory` of an executor in `/state` plus `stdout` or
 * `stderr`, or the same below the sandboxes dir, `/<task_id>/stdout` (what the dashboard asks).
 * Read-only, and only inside the agent's sandboxes: the path is resolved (symlinks included) and
 * must be a regular file below `<work dir>/sandboxes/`. `offset=-1` answers the size with no data
 * (how a log viewer finds the end). At most 1 MiB per call.
 */
import { open, realpath, stat } from 'node:fs/promises';
import { isAbsolute, join, sep } from 'node:path';
import { NotFoundError, ValidationError } from '../common/errors.js';
import type { Router } from '../common/http.js';

export const MAX_READ = 1 << 20;

function intParam(q: URLSearchParams, name: string, fallback: number, min: number): number {
  const v = q.get(name);
  if (v === null || v === '') return fallback;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < min) throw new ValidationError([{ path: name, errors: [`must be an integer >= ${min}, got '${v}'`] }]);
  return n;
}

/** Reads `length` bytes at `offset` from `path`, if it is a file below `root` (the sandboxes dir). */
export async function readSandboxFile(root: string, path: string, offset: number, length: number): Promise<{ data: string; offset: number }> {
  if (!isAbsolute(path)) throw new ValidationError([{ path: 'path', errors: [`must be an absolute path (a sandbox directory from /state plus a file name, or /<task_id>/<file>), got '${path}'`] }]);
  let real: string;
  let base: string;
  try {
    base = await realpath(root);
    real = await realpath(path.startsWith(root + sep) || path.startsWith(base + sep) ? path : join(root, path));
  } catch {
    throw new NotFoundError(`no file '${path}'`);
  }
  if (!real.startsWith(base + sep)) throw new NotFoundError(`'${path}' is not in a task sandbox of this agent`);
  const st = await stat(real);
  if (!st.isFile()) throw new NotFoundError(`'${path}' is not a file`);
  if (offset === -1) return { data: '', offset: st.size };
  const n = Math.max(0, Math.min(length, MAX_READ, st.size - offset));
  if (n === 0) return { data: '', offset };
  const fh = await open(real, 'r');
  try {
    const buf = Buffer.alloc(n);
    const { bytesRead } = await fh.read(buf, 0, n, offset);
    return { data: buf.subarray(0, bytesRead).toString('utf8'), offset };
  } finally {
    await fh.close();
  }
}

export function mountFiles(router: Router, sandboxes: () => string): void {
  router.get(
    '/files/read',
    async (req) => {
      const path = req.query.get('path');
      if (!path) throw new ValidationError([{ path: 'path', errors: ['is required'] }]);
      const offset = intParam(req.query, 'offset', 0, -1);
      const length = intParam(req.query, 'length', MAX_READ, 0);
      return { json: await readSandboxFile(sandboxes(), path, offset, length) };
    },
    { summary: "read part of a file in a task's sandbox (Mesos format: {data, offset}; offset=-1 gives the size)", query: { path: 'absolute path inside a sandbox', offset: 'byte offset (-1: size only)', length: `bytes (at most ${MAX_READ})` } },
  );
}
