/**
 * User-space instructions per request of the nginx front's hot path against plain nginx, under callgrind
 * (not part of `npm run bench`: `node dist/bench/admin/callgrind.js [front|plain ...]`, needs valgrind).
 * Each nginx runs as one process (`master_process off`, one worker) under `valgrind --tool=callgrind`,
 * in front of one `sextant master` (20 apps) on loopback. The front's config and Lua are front-conf.ts /
 * front-lua.ts's as built; behind it a stand-in for the Node entry point on its unix socket allows every
 * check for an hour (so only hits are counted: at valgrind's rate a once-a-second miss would add noise),
 * and answers 502 to anything else (a request falling to Node fails the run). Plain nginx is the
 * benchmark's (index.ts). One keep-alive HTTPS/1.1 connection sends wrk's request (`Host` and a 407-byte
 * `Authorization`): CG_WARMUP requests (300), counters zeroed (`callgrind_control -z`), CG_REQUESTS (1500)
 * counted, dumped (`callgrind_control -d`); the result is the dump's total Ir over the requests.
 * `front` is the front as it runs (its C check when native/build/nginx/ holds the module), `front-lua`
 * the front with its Lua check alone.
 * CG_PATHS: comma-separated paths (default `/mesos/master/state,/marathon/v2/apps`). CG_KEEP=1 keeps the
 * dumps and configs (printed) for callgrind_annotate. CG_EDIT: a module whose default export
 * `(who, conf, lua) => [conf, lua]` rewrites the config (and the front's Lua) before nginx starts, for
 * trying a change before building it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { fileURLToPath } from 'node:url';
import { generateKeyPair, SignJWT } from 'jose';
import { ensureCa, issueCert, run } from '../../common/index.js';
import { nginxConf as frontConf, frontCheckModulePath, frontLua } from '../../admin/index.js';
import { freePort } from '../../test/lib/index.js';
import { nginxConf as plainConf } from './index.js';

const HOST = '127.0.0.1';
const WARMUP = Number(process.env.CG_WARMUP ?? 300);
const N = Number(process.env.CG_REQUESTS ?? 1500);
const PATHS = (process.env.CG_PATHS ?? '/mesos/master/state,/marathon/v2/apps').split(',');
const here = path.dirname(fileURLToPath(import.meta.url));
const sextantJs = path.resolve(here, '../../cli/sextant.js');

function started(child: ChildProcess, re: RegExp, what: string): Promise<void> {
  let out = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what} not ready in 60 s: ${out.slice(-2000)}`)), 60_000);
    const on = (d: Buffer) => ((out += d), re.test(out) && (clearTimeout(timer), resolve()));
    child.stdout?.on('data', on);
    child.stderr?.on('data', on);
    child.once('exit', (c) => (clearTimeout(timer), reject(new Error(`${what} exited ${c}: ${out.slice(-2000)}`))));
  });
}

async function listening(port: number): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if (await new Promise<boolean>((r) => { const s = net.connect(port, HOST, () => (s.destroy(), r(true))); s.once('error', () => r(false)); })) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`nothing listens on ${port} after 30 s`);
}

/** One TLS connection; `send(req, count)` sends `count` requests one after another, each response read to its end (Content-Length or chunked). */
async function connection(port: number): Promise<{ send: (req: string, count: number) => Promise<void>; close: () => void }> {
  const s = tls.connect({ host: HOST, port, rejectUnauthorized: false, ALPNProtocols: ['http/1.1'] });
  await new Promise<void>((r, j) => (s.once('secureConnect', () => r()), s.once('error', j)));
  let buf = Buffer.alloc(0);
  let on: (() => void) | undefined;
  let failed: Error | undefined;
  s.on('error', (e) => ((failed = e), on?.()));
  s.on('data', (d: Buffer) => ((buf = Buffer.concat([buf, d])), on?.()));
  const send = (req: string, count: number) =>
    new Promise<void>((resolve, reject) => {
      let done = 0;
      const timer = setTimeout(() => reject(new Error(`${done}/${count} responses in 600 s`)), 600_000);
      const fail = (e: Error) => ((on = undefined), clearTimeout(timer), reject(e));
      on = () => {
        if (failed) return fail(failed);
        for (;;) {
          const h = buf.indexOf('\r\n\r\n');
          if (h < 0) return;
          const head = buf.subarray(0, h).toString('latin1');
          if (!head.startsWith('HTTP/1.1 200')) return fail(new Error(`not 200: ${head}`));
          const cl = /\r\ncontent-length:\s*(\d+)/i.exec(head);
          let end: number;
          if (cl) end = h + 4 + Number(cl[1]);
          else {
            const z = buf.indexOf('\r\n0\r\n\r\n', h);
            if (z < 0) return;
            end = z + 7;
          }
          if (buf.length < end) return;
          buf = buf.subarray(end);
          if (++done === count) return (on = undefined), clearTimeout(timer), resolve();
          s.write(req);
        }
      };
      s.write(req);
    });
  return { send, close: () => s.end() };
}

async function callgrindTotal(pid: number, cmd: 'z' | 'd'): Promise<void> {
  const r = await run(['callgrind_control', `-${cmd}`, String(pid)], { timeoutMs: 60_000 });
  if (r.code !== 0) throw new Error(`callgrind_control -${cmd}: ${r.stderr}${r.stdout}`);
}

async function main(): Promise<void> {
  const edit = process.env.CG_EDIT ? ((await import(path.resolve(process.env.CG_EDIT))) as { default: (who: string, conf: string, lua: string) => [string, string] }).default : undefined;
  const which = process.argv.slice(2).length ? process.argv.slice(2) : ['front', 'front-lua', 'plain'];
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sextant-cg-'));
  const procs: ChildProcess[] = [];
  const node = http.createServer((q, s) => {
    if (q.url === '/_sextant/auth') s.writeHead(200, { 'x-sextant-decision-ms': '3600000' }).end();
    else s.writeHead(502).end('not the stand-in entry point\'s');
  });
  try {
    const ca = await ensureCa(path.join(dir, 'ca'));
    const leaf = await issueCert(ca, dir, 'entry', { cn: HOST, usage: 'server', ips: [HOST] });
    const [mesos, marathon, port] = [await freePort(HOST), await freePort(HOST), await freePort(HOST)] as [number, number, number];
    const m = spawn(process.execPath, [sextantJs, 'master', '--ip', HOST, '--port', String(mesos), '--marathon-port', String(marathon), '--work-dir', path.join(dir, 'master'), '--insecure-dev'], { detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, SEXTANT_MASTER_SERVICES: '', SEXTANT_LOG_LEVEL: 'warn' } });
    procs.push(m);
    await started(m, /sextant master listening/, 'sextant master');
    for (let i = 0; i < 20; i++)
      await fetch(`http://${HOST}:${marathon}/v2/apps`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ id: `/bench/app${i}`, cmd: 'sleep 1000', cpus: 0.1, mem: 16, instances: 1, labels: { team: 'bench' } }) });
    const { privateKey } = await generateKeyPair('RS256');
    const token = await new SignJWT({}).setProtectedHeader({ alg: 'RS256' }).setSubject('bench').setExpirationTime('2h').sign(privateKey);
    const socket = path.join(dir, 'entry.sock');
    await new Promise<void>((r) => node.listen(socket, r));
    for (const who of which) {
      const d = path.join(dir, who);
      fs.mkdirSync(path.join(d, 'tmp'), { recursive: true });
      let conf: string;
      if (who === 'plain') conf = plainConf(d, 1, port, mesos, marathon, leaf.cert, leaf.key).replace('daemon off;', 'daemon off; master_process off;');
      else {
        const luaFile = path.join(d, 'front.lua');
        const checkModule = who === 'front' ? frontCheckModulePath() : undefined;
        fs.writeFileSync(luaFile, frontLua(socket, checkModule !== undefined));
        const up = (p: number) => ({ host: HOST, port: p });
        conf = frontConf({ ...(checkModule ? { checkModule } : {}), dir: d, listen: up(port), cert: leaf.cert, key: leaf.key, workers: 1, socket, check: 'lua', marathon: up(marathon), mesos: up(mesos), mesosDns: up(8123), upstreamTimeoutMs: 30_000, accessLog: path.join(d, 'access.log'), luaFile, maxHeaderBytes: 16384 })
          .replace('master_process on;', 'master_process off;');
      }
      if (edit) {
        const luaFile = path.join(d, 'front.lua');
        const [c2, l2] = edit(who, conf, who === 'plain' ? '' : fs.readFileSync(luaFile, 'utf8'));
        conf = c2;
        if (who !== 'plain') fs.writeFileSync(luaFile, l2);
      }
      const confFile = path.join(d, 'nginx.conf');
      fs.writeFileSync(confFile, conf);
      const out = path.join(d, 'callgrind.out');
      const ng = spawn('valgrind', ['--tool=callgrind', `--callgrind-out-file=${out}`, 'nginx', '-c', confFile, '-p', d], { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
      procs.push(ng);
      let log = '';
      ng.stderr!.on('data', (x) => (log += x));
      await listening(port);
      for (const p of PATHS) {
        const req = `GET ${p} HTTP/1.1\r\nHost: ${HOST}:${port}\r\nAuthorization: token=${token}\r\n\r\n`;
        const c = await connection(port);
        await c.send(req, WARMUP);
        await callgrindTotal(ng.pid!, 'z');
        await c.send(req, N);
        await callgrindTotal(ng.pid!, 'd');
        c.close();
        const dumps = fs.readdirSync(d).filter((f) => f.startsWith('callgrind.out.')).sort((a, b) => Number(a.split('.').pop()) - Number(b.split('.').pop()));
        const last = path.join(d, dumps.at(-1)!);
        const total = Number(/^totals:\s+(\d+)/m.exec(fs.readFileSync(last, 'utf8'))?.[1]);
        console.log(`${who} ${p}: ${(total / N / 1000).toFixed(2)}k instructions per request (${N} requests${process.env.CG_KEEP ? `, ${last}` : ''})`);
      }
      process.kill(-ng.pid!, 'SIGTERM');
      await new Promise((r) => ng.once('exit', r));
      procs.pop();
      if (!/ERROR SUMMARY|==/.test(log)) console.log(log.slice(-500));
    }
  } finally {
    node.close();
    for (const c of procs) try { process.kill(-c.pid!, 'SIGTERM'); } catch { /* gone */ }
    if (process.env.CG_KEEP) console.log(`kept ${dir}`);
    else setTimeout(() => fs.rmSync(dir, { recursive: true, force: true }), 500);
  }
}

await main();
