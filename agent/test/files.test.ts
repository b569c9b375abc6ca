/**
 * The agent's `/files/read` on a real HTTP server over a temp sandboxes folder: slices by offset
 * and length, the size with offset=-1, the `/<task_id>/<file>` form, UTF-8 never cut, and the
 * confinement: symlinks, `..`, FIFOs (refused without blocking), directories and bad parameters
 * are refused with a message that says why.
 */
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requestJson, Router, serve } from '../../common/index.js';
import { uniqueName } from '../../test/lib/index.js';
import { completeUtf8, mountFiles } from '../files.js';

t.test('/files/read serves slices of sandbox files and nothing outside them', async (t) => {
  const work = mkdtempSync(join(tmpdir(), `${uniqueName('files')}-`));
  t.teardown(() => rmSync(work, { recursive: true, force: true }));
  const root = join(work, 'sandboxes');
  const box = join(root, 'web.1');
  mkdirSync(box, { recursive: true });
  writeFileSync(join(box, 'stdout'), 'line 1\nline 2\n');
  writeFileSync(join(box, 'utf8'), 'aé€'); // 1 + 2 + 3 bytes
  writeFileSync(join(work, 'secret'), 'not for you');
  symlinkSync(join(work, 'secret'), join(box, 'link-out'));
  symlinkSync(join(box, 'stdout'), join(box, 'link-in'));
  execFileSync('mkfifo', [join(box, 'fifo')]);

  const router = new Router();
  mountFiles(router, () => root);
  const srv = await serve(router, { host: '127.0.0.1', port: 0 });
  t.teardown(() => srv.close());
  const base = `http://127.0.0.1:${srv.address().port}`;
  const read = (q: Record<string, string>) => requestJson(`${base}/files/read?${new URLSearchParams(q)}`);

  const rows: [string, Record<string, string>, number, unknown][] = [
    ['the whole file', { path: join(box, 'stdout') }, 200, { data: 'line 1\nline 2\n', offset: 0 }],
    ['from an offset', { path: join(box, 'stdout'), offset: '7' }, 200, { data: 'line 2\n', offset: 7 }],
    ['a length', { path: join(box, 'stdout'), offset: '0', length: '4' }, 200, { data: 'line', offset: 0 }],
    ['past the end: no data', { path: join(box, 'stdout'), offset: '100' }, 200, { data: '', offset: 100 }],
    ['offset=-1: the size', { path: join(box, 'stdout'), offset: '-1' }, 200, { data: '', offset: 14 }],
    ['a symlink inside the sandboxes', { path: join(box, 'link-in') }, 200, { data: 'line 1\nline 2\n', offset: 0 }],
    ['UTF-8 not cut: the half character waits', { path: join(box, 'utf8'), length: '5' }, 200, { data: 'aé', offset: 0 }],
    ['/<task_id>/<file>, below the sandboxes', { path: '/web.1/stdout', offset: '7' }, 200, { data: 'line 2\n', offset: 7 }],
  ];
  for (const [what, q, status, body] of rows) {
    const r = await read(q);
    t.equal(r.status, status, what);
    t.same(r.body, body, what);
  }
  const refused: [string, Record<string, string>, number, RegExp][] = [
    ['a symlink out of the sandboxes', { path: join(box, 'link-out') }, 404, /is not in a task sandbox/],
    ['.. out of the sandboxes', { path: `${box}/../../secret` }, 404, /is not in a task sandbox/],
    ['/<task_id>/.. out of the sandboxes', { path: '/../secret' }, 404, /is not in a task sandbox/],
    ['a file elsewhere', { path: '/etc/passwd' }, 404, /no file|is not in a task sandbox/],
    ['a FIFO (no blocking)', { path: join(box, 'fifo') }, 404, /is not a file/],
    ['a directory', { path: box }, 404, /is not a file/],
    ['a missing file', { path: join(box, 'nope') }, 404, /no file/],
    ['no path', {}, 422, /path/],
    ['a relative path', { path: 'web.1/stdout' }, 422, /path/],
    ['a bad offset', { path: join(box, 'stdout'), offset: '-2' }, 422, /offset/],
    ['a bad length', { path: join(box, 'stdout'), length: 'x' }, 422, /length/],
  ];
  for (const [what, q, status, re] of refused) {
    const r = await read(q);
    t.equal(r.status, status, what);
    t.match(JSON.stringify(r.body), re, what);
  }
  t.equal((await requestJson(`${base}/files/read.json?path=${encodeURIComponent(join(box, 'stdout'))}&offset=-1`)).status, 200, "Mesos's /files/read.json too");
});

t.test('completeUtf8 keeps whole characters only', async (t) => {
  const e = Buffer.from('€'); // e2 82 ac
  const rows: [Buffer, number][] = [
    [Buffer.from('abc'), 3],
    [Buffer.concat([Buffer.from('a'), e.subarray(0, 1)]), 1],
    [Buffer.concat([Buffer.from('a'), e.subarray(0, 2)]), 1],
    [Buffer.concat([Buffer.from('a'), e]), 4],
    [Buffer.from('é'), 2],
    [Buffer.from('😀').subarray(0, 3), 0],
    [Buffer.alloc(0), 0],
  ];
  for (const [b, n] of rows) t.equal(completeUtf8(b).length, n, b.toString('hex'));
});
