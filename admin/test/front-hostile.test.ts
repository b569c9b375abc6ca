/**
 * Issue 30, the nginx front under a root master, real nginx and a real master:
 *  - nginx's workers run as an unprivileged user (not root), the master as root; what they open by path
 *    (Node's socket, temp dirs, logs) is in a directory under /run open to their group and no more (the
 *    work dir's ancestors may be closed to them); certificates, keys, configuration and Lua stay root's
 *    0600 in the front's 0700 dir; reads (nginx's hot path and Node's decision over the socket) and
 *    writes (proxied to Node) work; stopped, the runtime directory is gone.
 *  - HTTP/2 header values holding CR, LF or NUL (raw frames: Node's client refuses to send them) never
 *    reach Node's check or the upstream: refused, while the same client with a clean value is served.
 */
import t from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import tls from 'node:tls';
import { NGINX, NginxFront } from '../index.js';
import { grant, request, spawnMaster, startEntry } from './lib.js';

t.setTimeout(180_000);
if (!fs.existsSync(NGINX)) throw new Error(`${NGINX} is missing: install nginx-light and libnginx-mod-http-lua (scripts/debian-packages.txt)`);
if (process.getuid?.() !== 0) throw new Error('this test needs root: it checks that nginx started by root runs its workers unprivileged');

const ROOT_GROUP = 'dcos:service:marathon:marathon:services:/';

const statusOf = (pid: number) => fs.readFileSync(`/proc/${pid}/status`, 'utf8');
const uidOf = (pid: number) => Number(/^Uid:\s+(\d+)\s+(\d+)/m.exec(statusOf(pid))![2]);
const childrenOf = (pid: number) => fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);

// ---- a minimal HTTP/2 client writing its own HPACK (literal fields, never Huffman) ----
function hpackInt(n: number, bits: number, first: number): number[] {
  const max = (1 << bits) - 1;
  if (n < max) return [first | n];
  const out = [first | max];
  for (n -= max; n >= 128; n = Math.floor(n / 128)) out.push((n % 128) | 128);
  return [...out, n];
}
const field = (name: string, value: string) => {
  const n = Buffer.from(name, 'latin1');
  const v = Buffer.from(value, 'latin1');
  return Buffer.concat([Buffer.from([0, ...hpackInt(n.length, 7, 0)]), n, Buffer.from(hpackInt(v.length, 7, 0)), v]);
};
const frame = (type: number, flags: number, stream: number, payload: Buffer) => {
  const h = Buffer.alloc(9);
  h.writeUIntBE(payload.length, 0, 3);
  h[3] = type;
  h[4] = flags;
  h.writeUInt32BE(stream, 5);
  return Buffer.concat([h, payload]);
};
const STATIC_STATUS: Record<number, number> = { 8: 200, 9: 204, 10: 206, 11: 304, 12: 400, 13: 404, 14: 500 };

/** One GET on a fresh HTTP/2 connection with these headers as given; the answer's status, or `reset` / `goaway`. */
function rawGet(url: string, ca: Buffer, p: string, headers: [string, string][]): Promise<number | 'reset' | 'goaway'> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: u.hostname, port: Number(u.port), ca, ALPNProtocols: ['h2'], servername: undefined });
    const timer = setTimeout(() => (s.destroy(), reject(new Error('no answer in 10 s'))), 10_000);
    const done = (v: number | 'reset' | 'goaway') => (clearTimeout(timer), s.destroy(), resolve(v));
    s.once('error', (e) => (clearTimeout(timer), reject(e)));
    s.once('secureConnect', () => {
      if (s.alpnProtocol !== 'h2') return reject(new Error(`ALPN gave ${s.alpnProtocol}`));
      const block = Buffer.concat([field(':method', 'GET'), field(':scheme', 'https'), field(':authority', u.host), field(':path', p), ...headers.map(([k, v]) => field(k, v))]);
      s.write(Buffer.concat([Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), frame(4, 0, 0, Buffer.alloc(0)), frame(1, 0x5, 1, block)]));
    });
    let buf = Buffer.alloc(0);
    s.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 9 && buf.length >= 9 + buf.readUIntBE(0, 3)) {
        const len = buf.readUIntBE(0, 3);
        const [type, stream, payload] = [buf[3]!, buf.readUInt32BE(5) & 0x7fffffff, buf.subarray(9, 9 + len)];
        buf = buf.subarray(9 + len);
        if (type === 7) return done('goaway');
        if (type === 3 && stream === 1) return done('reset');
        if (type === 1 && stream === 1) {
          const b = payload[0]!;
          if (b & 0x80 && STATIC_STATUS[b & 0x7f]) return done(STATIC_STATUS[b & 0x7f]!);
          // a literal of the :status name (index 8): nginx writes the three digits plainly
          if ((b === 0x48 || b === 0x08 || b === 0x18) && payload[1] === 3) return done(Number(payload.subarray(2, 5).toString('latin1')));
          return reject(new Error(`cannot read the status of ${payload.subarray(0, 8).toString('hex')}`));
        }
      }
    });
  });
}

t.test('the nginx front under root', async (t) => {
  const m = await spawnMaster(t);
  const e = await startEntry(t, m, { front: 'nginx', limits: { tokenCacheMs: 1 } });
  const front = e.entry as NginxFront;
  const a = e.authority;
  a.user('bob', [grant(ROOT_GROUP, 'full')]);
  const tok = await a.token('bob');
  const apps = `${e.url}/marathon/v2/apps`;

  t.test('workers unprivileged, files open to them and no more, reads and writes served', async (t) => {
    const w = front.workerUser!;
    t.ok(w, 'a worker user was chosen');
    t.not(w.uid, 0, `workers' user ${w.user} is not root`);
    const master = front.pid!;
    t.equal(uidOf(master), 0, 'nginx\'s master keeps root (port, keys)');
    const workers = childrenOf(master).filter((p) => /nginx: worker/.test(fs.readFileSync(`/proc/${p}/cmdline`, 'latin1')));
    t.ok(workers.length >= 1, `workers: ${workers.join(' ')}`);
    for (const p of workers) t.equal(uidOf(p), w.uid, `worker ${p} runs as ${w.user} (${w.uid})`);
    const st = (f: string) => fs.statSync(path.join(front.dir, f));
    const run = (f: string) => fs.statSync(path.join(front.runDir, f));
    t.equal(st('.').mode & 0o777, 0o700, 'the front\'s directory (configuration, keys): root\'s alone');
    t.not(front.runDir, front.dir, `the workers' files are elsewhere: ${front.runDir}`);
    for (let d = path.dirname(front.runDir); d !== '/'; d = path.dirname(d)) t.ok(fs.statSync(d).mode & 0o001, `${d}: others may pass`);
    t.equal(run('.').mode & 0o777, 0o710, 'the workers\' directory: their group may pass, not list');
    t.equal(run('.').gid, w.gid, 'its group is the workers\'');
    t.equal(run('entry.sock').mode & 0o777, 0o660, 'Node\'s socket: owner and the workers\' group');
    t.equal(run('entry.sock').gid, w.gid);
    for (const f of ['entry.key', 'entry.crt', 'nginx.conf', 'front.lua']) {
      t.equal(st(f).mode & 0o777, 0o600, `${f}: 0600`);
      t.equal(st(f).uid, 0, `${f}: root's (read by nginx's master only)`);
    }
    t.equal((await request(apps, e.ca, { token: tok })).status, 200, 'a read: Node asked over the socket by a worker, then served by nginx');
    const v = a.verifications;
    t.equal((await request(apps, e.ca, { token: tok })).status, 200, 'the same read again');
    t.equal(a.verifications, v, 'from the worker\'s cache');
    const post = await request(apps, e.ca, { method: 'POST', token: tok, body: JSON.stringify({ id: '/hostile/one', cmd: 'sleep 100', cpus: 0.1, mem: 16 }) });
    t.equal(post.status, 201, 'a write: proxied to Node and on to Marathon');
  });

  t.test('HTTP/2 header values with CR, LF or NUL never reach Node\'s check', async (t) => {
    t.equal(await rawGet(e.url, e.ca, '/marathon/v2/apps', [['authorization', `token=${tok}`]]), 200, 'the raw client with a clean token: served (the client works)');
    const cases: [string, [string, string][], string?][] = [
      ['CR LF in the credential', [['authorization', `token=${tok}\r\nX-Sextant-Uri: /acs/api/v1/users`]]],
      ['a bare LF in the credential', [['authorization', `token=${tok}\nx`]]],
      ['a bare CR in the credential', [['authorization', `token=${tok}\rx`]]],
      ['NUL in the credential', [['authorization', `token=${tok}\0x`]]],
      ['CR LF in the cookie', [['cookie', `dcos-acs-auth-cookie=${tok}\r\nAuthorization: token=${tok}`]]],
      ['CR LF in the path', [], '/marathon/v2/apps\r\nX-A: b'],
    ];
    for (const [name, headers, p] of cases) {
      const v = a.verifications;
      const r = await rawGet(e.url, e.ca, p ?? '/marathon/v2/apps', headers);
      t.ok(r === 400 || r === 'reset' || r === 'goaway', `${name}: refused (${r})`);
      t.equal(a.verifications, v, `${name}: no credential check was asked of Node`);
    }
  });

  t.test('stopped: the workers\' runtime directory is gone', async (t) => {
    t.ok(fs.existsSync(front.runDir), 'there while running');
    await front.stop();
    t.notOk(fs.existsSync(front.runDir), 'removed with the front');
  });
});
