/**
 * The entry point against nginx (Debian nginx-light) as a plain TLS reverse proxy in front of the same
 * upstream (a real `sextant master` process, 20 apps), same run: wrk over HTTPS/1.1 keep-alive on
 * `/marathon/v2/apps` and `/mesos/master/state`, throughput at 16 connections and latency at 1
 * connection, each also measured on the upstream directly (what the proxy adds). The entry point runs in
 * its own process (entry-main.ts) with its nginx front (`--admin-front nginx`, its C check when built, else the Lua one),
 * with the front's `auth_request` variant, and alone (`--admin-front node`), all against nginx with the
 * same worker count (one; and N = the CPUs for nginx and the front). The entry point checks a token on
 * every request; plain nginx checks nothing. Every target gets the same request, token header included
 * (plain nginx and the upstream ignore it; plain nginx forwards it, the front keeps it at the edge), unless
 * SEXTANT_BENCH_SAME_REQUEST=0 (session 18's method: the token to the entry point only). The upstream's
 * CPU per request is reported per proxy too. Plus the cost of one token check in Node.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { exportSPKI, generateKeyPair, jwtVerify, SignJWT } from 'jose';
import { ensureCa, issueCert, run, systemClock } from '../../common/index.js';
import { AuthGate } from '../../admin/index.js';
import { freePort, which } from '../../test/lib/index.js';
import { trackGroup } from '../lib/groups.js';
import { median, percentile } from '../lib/stats.js';
import { addedMs, fmtAdded, latencyRounds, type LatSample } from './latency.js';

const HOST = '127.0.0.1';
const SECONDS = Number(process.env.SEXTANT_BENCH_SECONDS ?? 5);
const ROUNDS = Number(process.env.SEXTANT_BENCH_ROUNDS ?? 3);
const WARMUP = Number(process.env.SEXTANT_BENCH_WARMUP_SECONDS ?? 3);
/** Latency: rounds, requests per target and round (one connection), and the most seconds one may take. */
const LAT_ROUNDS = Number(process.env.SEXTANT_BENCH_LAT_ROUNDS ?? 12);
const LAT_N = Number(process.env.SEXTANT_BENCH_LAT_REQUESTS ?? 2000);
const LAT_SECONDS = Number(process.env.SEXTANT_BENCH_LAT_SECONDS ?? 3);
/** Send the token to every target (plain nginx and the upstream ignore it), not only to the entry point. */
const SAME_REQUEST = process.env.SEXTANT_BENCH_SAME_REQUEST !== '0';
/** Paired rounds (front and nginx back to back, the order alternating) and their seconds per run. */
const PAIRED_ROUNDS = Number(process.env.SEXTANT_BENCH_PAIRED_ROUNDS ?? 9);
const PAIRED_SECONDS = Number(process.env.SEXTANT_BENCH_PAIRED_SECONDS ?? 3);
const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, here.includes(`${path.sep}dist${path.sep}`) ? '../../..' : '../..');
const sextantJs = path.join(root, 'dist', 'cli', 'sextant.js');

interface WrkResult {
  rps: number;
  /** CPU µs the proxy process spent per request (throughput runs). */
  cpuUs?: number;
  p50: number;
  p99: number;
  errors: number;
}

function start(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}): { child: ChildProcess; ready: (re: RegExp) => Promise<void>; out: () => string } {
  const child = spawn(cmd, args, { detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  trackGroup(child.pid);
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const ready = (re: RegExp) =>
    new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${cmd} not ready in 30 s: ${out.slice(-2000)}`)), 30_000);
      const check = () => re.test(out) && (clearTimeout(timer), resolve());
      child.stdout!.on('data', check);
      child.stderr!.on('data', check);
      child.once('exit', (c) => (clearTimeout(timer), reject(new Error(`${cmd} exited ${c}: ${out.slice(-2000)}`))));
      check();
    });
  return { child, ready, out: () => out };
}

function stop(c: ChildProcess): void {
  try {
    if (c.pid) process.kill(-c.pid, 'SIGTERM');
  } catch {
    /* gone */
  }
}

const unit = (v: string, u: string) => Number(v) * ({ us: 0.001, ms: 1, s: 1000 } as Record<string, number>)[u]!;

export function parseWrk(out: string): WrkResult {
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]);
  const p = (q: string) => {
    const m = new RegExp(`^\\s+${q}%\\s+([\\d.]+)(us|ms|s)\\s*$`, 'm').exec(out);
    return m ? unit(m[1]!, m[2]!) : NaN;
  };
  const errs = /Non-2xx or 3xx responses:\s+(\d+)/.exec(out);
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  return { rps, p50: p('50'), p99: p('99'), errors: Number(errs?.[1] ?? 0) + (sock ? sock.slice(1).reduce((s, x) => s + Number(x), 0) : 0) };
}

async function wrk(url: string, conns: number, token?: string, seconds = SECONDS): Promise<WrkResult> {
  const args = ['wrk', '-t', '1', '-c', String(conns), '-d', `${seconds}s`, '--latency', ...(token ? ['-H', `Authorization: token=${token}`] : []), url];
  const r = await run(args, { timeoutMs: (seconds + 30) * 1000 });
  const w = parseWrk(r.stdout);
  if (!(w.rps > 0)) throw new Error(`wrk gave no rate for ${url}: ${r.stdout}`);
  if (w.errors) throw new Error(`wrk saw ${w.errors} errors on ${url}: ${r.stdout}`);
  return w;
}

/**
 * Plain nginx as the front proxies, minus the check: the same listener (TLS 1.2/1.3, HTTP/2 and
 * HTTP/1.1, session cache), client keep-alive (`keepalive_requests`, timeout), upstream pools
 * (`keepalive 64`, HTTP/1.1, `Connection ""`, a fixed Host), buffering (nginx's default on the hot
 * routes of both) and worker connections as front-conf.ts writes them; no access log, no `Forwarded`.
 */
export function nginxConf(dir: string, workers: number, port: number, mesos: number, marathon: number, cert: string, key: string): string {
  const tmp = path.join(dir, `tmp${workers}`);
  fs.mkdirSync(tmp, { recursive: true });
  const loc = (p: string, up: string, upPort: number) => `location /${p}/ { proxy_pass http://${up}/; proxy_set_header Host ${HOST}:${upPort}; proxy_set_header Connection ""; proxy_connect_timeout 5s; proxy_read_timeout 30000ms; proxy_send_timeout 30000ms; }`;
  return `user root; worker_processes ${workers}; daemon off; pid ${dir}/nginx${workers}.pid; error_log ${dir}/error${workers}.log warn;
events { worker_connections 4096; }
http {
  access_log off; server_tokens off;
  client_body_temp_path ${tmp}/body; proxy_temp_path ${tmp}/proxy; fastcgi_temp_path ${tmp}/fcgi; uwsgi_temp_path ${tmp}/uwsgi; scgi_temp_path ${tmp}/scgi;
  upstream mesos { server ${HOST}:${mesos} max_fails=0; keepalive 64; }
  upstream marathon { server ${HOST}:${marathon} max_fails=0; keepalive 64; }
  server {
    listen ${HOST}:${port} ssl http2;
    ssl_certificate ${cert}; ssl_certificate_key ${key};
    ssl_protocols TLSv1.2 TLSv1.3; ssl_session_cache shared:plain_tls${workers}:4m; ssl_session_timeout 1h;
    keepalive_requests 100000; keepalive_timeout 75s;
    proxy_http_version 1.1; proxy_redirect off;
    ${loc('mesos', 'mesos', mesos)}
    ${loc('marathon', 'marathon', marathon)}
  }
}
`;
}

/** CPU seconds (user + system) of one process, from /proc. */
function ownCpuSeconds(p: number): number {
  try {
    const f = fs.readFileSync(`/proc/${p}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(f[11]) + Number(f[12])) / 100; // utime, stime in USER_HZ (100)
  } catch {
    return 0;
  }
}

/** CPU seconds (user + system) of a process and its descendants (nginx's master and workers), from /proc. */
function cpuSeconds(pid: number): number {
  const one = ownCpuSeconds;
  const kids = (p: number): number[] => {
    try {
      return fs.readFileSync(`/proc/${p}/task/${p}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
    } catch {
      return []; // no children file
    }
  };
  // The process, its children and theirs (the nginx front's master is the entry point's child, its workers the master's).
  let all = [pid];
  for (let depth = 0, level = [pid]; depth < 2; depth++) (level = level.flatMap(kids)), (all = all.concat(level));
  return all.reduce((s, k) => s + one(k), 0);
}

/** Resolve once something accepts TCP on the port (bounded: 10 s, 100 tries). */
async function listening(port: number, out: () => string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const ok = await new Promise<boolean>((r) => {
      const s = net.connect(port, HOST, () => (s.destroy(), r(true)));
      s.once('error', () => r(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`nothing listens on ${HOST}:${port}: ${out().slice(-2000)}`);
}

/** One RS256 verification (jose) against a cache hit of the entry point's gate, per check. */
async function tokenCost(): Promise<{ verifyUs: number; cachedUs: number }> {
  const { privateKey, publicKey } = await generateKeyPair('RS256');
  const tok = await new SignJWT({}).setProtectedHeader({ alg: 'RS256' }).setSubject('u').setExpirationTime('1h').sign(privateKey);
  const N = 2000;
  let t0 = performance.now();
  for (let i = 0; i < N; i++) await jwtVerify(tok, publicKey);
  const verifyUs = ((performance.now() - t0) * 1000) / N;
  const gate = new AuthGate(() => ({ authenticate: async () => ({ ok: true, identity: { uid: 'u', kind: 'user', superuser: false } }), authorize: async () => true }), { clock: systemClock, cacheMs: 60_000, cacheSize: 100, throttleFailures: 10, throttleWindowMs: 1000 });
  const headers = { authorization: `token=${tok}` };
  await gate.authenticate(headers, HOST);
  t0 = performance.now();
  for (let i = 0; i < N * 10; i++) await gate.authenticate(headers, HOST);
  return { verifyUs, cachedUs: ((performance.now() - t0) * 1000) / (N * 10) };
}

/**
 * front / nginx req/s of one round each, `PAIRED_ROUNDS` rounds: one run of each back to back, nginx
 * first in even rounds and the front first in odd ones (so a drift of the machine's speed within a
 * round does not favour either), each round's ratio on its own: what the throughput table's ratio of
 * medians cannot show, how the ratio spreads.
 */
async function pairedRatios(front: string, nginx: string, token: string | undefined): Promise<number[]> {
  const out: number[] = [];
  for (let r = 0; r < PAIRED_ROUNDS; r++) {
    const one = (url: string) => wrk(url, 16, token, PAIRED_SECONDS);
    const [n, f] = r % 2 ? [undefined, await one(front)] : [await one(nginx), undefined];
    const nn = n ?? (await one(nginx));
    const ff = f ?? (await one(front));
    out.push(ff.rps / nn.rps);
  }
  return out;
}

const pairedRow = (name: string, workers: string, xs: number[]) =>
  `| ${name} | ${workers} | **${median(xs).toFixed(3)}** | ${percentile(xs, 25).toFixed(3)} … ${percentile(xs, 75).toFixed(3)} | ${Math.min(...xs).toFixed(3)} … ${Math.max(...xs).toFixed(3)} | ${xs.filter((x) => x >= 1).length} of ${xs.length} |`;

const pairedHead = () => [
  `### front / nginx per round: ${PAIRED_ROUNDS} rounds of one ${PAIRED_SECONDS}-s run each back to back (order alternating), 16 connections`,
  '',
  '| path | workers | median ratio | 25th … 75th percentile | lowest … highest | rounds with the front at least as fast |',
  '| --- | --- | --- | --- | --- | --- |',
];

/** `npm run bench admin`; `{ pairedOnly }` (bench/admin-paired): only nginx and the front, only the paired rounds. */
export async function bench(opts: { pairedOnly?: boolean } = {}): Promise<string> {
  const missing = ['wrk', 'nginx', 'openssl'].filter((t) => !which(t));
  if (missing.length) throw new Error(`missing ${missing.join(', ')}: install the Debian packages (wrk, nginx-light, openssl)`);
  if (!fs.existsSync(sextantJs)) throw new Error(`${sextantJs} is missing: npm run build`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sextant-bench-admin-'));
  const procs: ChildProcess[] = [];
  try {
    const ca = await ensureCa(path.join(dir, 'ca'));
    const leaf = await issueCert(ca, dir, 'entry', { cn: HOST, usage: 'server', ips: [HOST] });
    const workers = Math.max(2, os.cpus().length);
    const ports: number[] = [];
    while (ports.length < 9) {
      const p = await freePort(HOST);
      if (!ports.includes(p)) ports.push(p);
    }
    const [mesos, marathon] = ports as [number, number];
    const m = start(process.execPath, [sextantJs, 'master', '--ip', HOST, '--port', String(mesos), '--marathon-port', String(marathon), '--work-dir', path.join(dir, 'master'), '--insecure-dev'], { SEXTANT_MASTER_SERVICES: '', SEXTANT_LOG_LEVEL: 'warn' });
    procs.push(m.child);
    await m.ready(/sextant master listening/);
    for (let i = 0; i < 20; i++)
      await fetch(`http://${HOST}:${marathon}/v2/apps`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ id: `/bench/app${i}`, cmd: 'sleep 1000', cpus: 0.1, mem: 16, instances: 1, labels: { team: 'bench' } }) });

    const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
    const token = await new SignJWT({}).setProtectedHeader({ alg: 'RS256' }).setSubject('bench').setExpirationTime('2h').sign(privateKey);
    const main = path.join(here, fs.existsSync(path.join(here, 'entry-main.js')) ? 'entry-main.js' : 'entry-main.ts');
    const entryProc = async (port: number, n: number, front?: 'lua' | 'auth_request') => {
      const e = start(process.execPath, [...(main.endsWith('.ts') ? ['--import', 'tsx'] : []), main, HOST, String(port), leaf.cert, leaf.key, HOST, String(mesos), String(marathon)], { BENCH_JWT_PUBLIC_KEY: await exportSPKI(publicKey), SEXTANT_LOG_LEVEL: 'warn', BENCH_ENTRY_WORKERS: String(n), ...(front ? { BENCH_ENTRY_FRONT: front } : {}) });
      procs.push(e.child);
      await e.ready(/entry ready/);
      return e.child.pid!;
    };
    const nginxProc = async (port: number, n: number) => {
      const conf = path.join(dir, `nginx${n}.conf`);
      fs.writeFileSync(conf, nginxConf(dir, n, port, mesos, marathon, leaf.cert, leaf.key));
      const p = start('nginx', ['-p', dir, '-c', conf]);
      procs.push(p.child);
      await listening(port, p.out); // nginx prints nothing once up
      return p.child.pid!;
    };
    // The proxies: nginx plain (checks nothing), our front (nginx + the Lua decision cache; and with auth_request + proxy_cache), the Node entry point alone.
    type Who = 'direct' | 'nginx' | 'front' | 'frontA' | 'node' | 'nginxN' | 'frontN';
    const proxies: Exclude<Who, 'direct'>[] = ['nginx', 'front', 'frontA', 'node', 'nginxN', 'frontN'];
    const portOf = Object.fromEntries(proxies.map((w, i) => [w, ports[2 + i]!])) as Record<Exclude<Who, 'direct'>, number>;
    const only = opts.pairedOnly;
    const pids: Record<Who, number> = {
      direct: m.child.pid!,
      nginx: await nginxProc(portOf.nginx, 1),
      front: await entryProc(portOf.front, 1, 'lua'),
      frontA: only ? 0 : await entryProc(portOf.frontA, 1, 'auth_request'),
      node: only ? 0 : await entryProc(portOf.node, 1),
      nginxN: await nginxProc(portOf.nginxN, workers),
      frontN: await entryProc(portOf.frontN, workers, 'lua'),
    };
    const paths = [
      { name: 'Marathon GET /v2/apps (20 apps)', up: `http://${HOST}:${marathon}/v2/apps`, via: '/marathon/v2/apps' },
      { name: 'Mesos GET /master/state', up: `http://${HOST}:${mesos}/master/state`, via: '/mesos/master/state' },
    ];
    // The same request bytes everywhere (a ~400-byte header that every proxy parses, decrypts and forwards), or session 18's method.
    const tokenFor = (who: Who) => (SAME_REQUEST || !(who === 'direct' || who.startsWith('nginx')) ? token : undefined);
    const rows: string[] = [];
    const rowsN: string[] = [];
    const url = (who: Exclude<Who, 'direct'>, p: (typeof paths)[number]) => `https://${HOST}:${portOf[who]}${p.via}`;
    const paired = async () => {
      const out = pairedHead();
      for (const p of paths) {
        out.push(pairedRow(p.name, '1', await pairedRatios(url('front', p), url('nginx', p), tokenFor('front'))));
        out.push(pairedRow(p.name, String(workers), await pairedRatios(url('frontN', p), url('nginxN', p), tokenFor('front'))));
      }
      return [...out, ''];
    };
    if (only) {
      for (const p of paths) for (const who of ['nginx', 'front', 'nginxN', 'frontN'] as const) await wrk(url(who, p), 16, tokenFor(who), WARMUP);
      const load = os.loadavg()[0]!;
      const rowsP = await paired();
      return [
        '## The entry point (nginx front) vs plain nginx, paired rounds only (`npm run bench admin-paired`)',
        '',
        'The setup of docs/benchmarks/admin.md (the same master, certificate, nginx configuration, front and token; every target gets the token header), only plain nginx and the front, one worker each and one per CPU,',
        `after ${WARMUP} s of untimed load on each. Machine: load average (1 min) ${load.toFixed(1)} at the start, ${os.loadavg().map((l) => l.toFixed(1)).join(' ')} at the end.`,
        '',
        ...rowsP,
      ].join('\n');
    }
    // Warm every proxy up first (the entry point's JIT), untimed.
    for (const p of paths) for (const who of proxies) await wrk(`https://${HOST}:${portOf[who]}${p.via}`, 16, tokenFor(who), WARMUP);
    const load0 = os.loadavg()[0]!;
    const all: Who[] = ['direct', ...proxies];
    const latRows: string[] = [];
    for (const p of paths) {
      const acc = {} as Record<Who, WrkResult[]>;
      const nodeUs = {} as Record<Who, number[]>;
      const upUs = {} as Record<Who, number[]>;
      for (const w of all) (acc[w] = []), (nodeUs[w] = []), (upUs[w] = []);
      for (let r = 0; r < ROUNDS; r++) {
        const order = r % 2 ? [...all].reverse() : all;
        for (const who of order) {
          const url = who === 'direct' ? p.up : `https://${HOST}:${portOf[who]}${p.via}`;
          const c0 = cpuSeconds(pids[who]);
          const n0 = ownCpuSeconds(pids[who]);
          const u0 = cpuSeconds(pids.direct);
          const w = await wrk(url, 16, tokenFor(who));
          w.cpuUs = ((cpuSeconds(pids[who]) - c0) * 1e6) / (w.rps * SECONDS);
          nodeUs[who].push(((ownCpuSeconds(pids[who]) - n0) * 1e6) / (w.rps * SECONDS));
          upUs[who].push(((cpuSeconds(pids.direct) - u0) * 1e6) / (w.rps * SECONDS));
          acc[who].push(w);
        }
      }
      // Latency: short interleaved rounds at one connection (latency.ts), every target in each round.
      const lat = await latencyRounds(dir, all.map((who) => ({ name: who, url: who === 'direct' ? p.up : `https://${HOST}:${portOf[who]}${p.via}`, ...(tokenFor(who) ? { token: tokenFor(who)! } : {}) })), LAT_ROUNDS, LAT_N, LAT_SECONDS);
      const med = (xs: WrkResult[], k: keyof WrkResult) => median(xs.map((x) => x[k] ?? NaN));
      const f = (x: number) => x.toFixed(3);
      const rps = (w: Who) => med(acc[w], 'rps').toFixed(0);
      const adds = (w: Who) => `${f(addedMs(lat, w, 'direct', 'p50').median)} / ${f(addedMs(lat, w, 'direct', 'p99').median)}`;
      const cpu = (w: Who) => med(acc[w], 'cpuUs').toFixed(0);
      const up = (w: Who) => median(upUs[w]).toFixed(1);
      const ratio = (a: Who, b: Who) => (med(acc[a], 'rps') / med(acc[b], 'rps')).toFixed(2);
      const dl = (q: 'p50' | 'p99') => `${(median(lat.get('direct')!.map((x: LatSample) => x[q])) / 1000).toFixed(3)}`;
      rows.push(`| ${p.name} | ${rps('direct')} | ${rps('nginx')} | ${rps('front')} | **${ratio('front', 'nginx')}** | ${rps('frontA')} | ${rps('node')} | ${dl('p50')} / ${dl('p99')} | ${adds('nginx')} | ${adds('front')} | ${adds('frontA')} | ${adds('node')} | ${cpu('nginx')} / ${cpu('front')} (${median(nodeUs.front).toFixed(1)}) / ${cpu('frontA')} / ${cpu('node')} | ${up('direct')} / ${up('nginx')} / ${up('front')} |`);
      rowsN.push(`| ${p.name} | ${rps('direct')} | ${rps('nginxN')} | ${rps('frontN')} | **${ratio('frontN', 'nginxN')}** | ${adds('nginxN')} | ${adds('frontN')} | ${cpu('nginxN')} / ${cpu('frontN')} (${median(nodeUs.frontN).toFixed(1)}) | ${up('nginxN')} / ${up('frontN')} |`);
      const reqs = Math.min(...[...lat.values()].flat().map((x) => x.requests));
      for (const w of proxies) latRows.push(`| ${p.name} | ${w} | ${fmtAdded(addedMs(lat, w, 'direct', 'p50'))} | ${fmtAdded(addedMs(lat, w, 'direct', 'p99'))} | ${w === 'nginx' ? '' : w.startsWith('nginx') ? '' : fmtAdded(addedMs(lat, w, w.endsWith('N') ? 'nginxN' : 'nginx', 'p99'))} | ${reqs} |`);
    }
    const rowsP = await paired();
    const cost = await tokenCost();
    return [
      '## The entry point (nginx front) vs nginx in front of the same master',
      '',
      `wrk over HTTPS (HTTP/1.1, keep-alive) to nginx ${(await run(['nginx', '-v'])).stderr.trim().replace('nginx version: ', '')} as a plain reverse proxy (upstream keep-alive, no checks),`,
      'to the entry point with its nginx front (`--admin-front nginx`: nginx with its decision table checked in C (native/nginx-sextant; the Lua check on a miss), the Node entry point behind it on a',
      'unix socket; "front auth_request": the same with stock nginx\'s `auth_request` and a `proxy_cache` of the decision instead of Lua),',
      'and to the Node entry point alone (`--admin-front node`), all with the same certificate, in front of one `sextant master` process',
      '(no plugins) on loopback; "direct" is wrk on the upstream itself. Plain nginx is configured as the front proxies (same listener,',
      'TLS session cache, client and upstream keep-alive, buffering; bench/admin/index.ts) without the check, the request counters and `Forwarded`.',
      `Throughput at 16 connections, ${SECONDS} s per run, ${ROUNDS} rounds alternating the order, medians, after ${WARMUP} s of untimed load on every proxy and path.`,
      `Latency at 1 connection: ${LAT_ROUNDS} rounds, each taking every target in turn (order rotated per round), ${LAT_N} requests each (at most ${LAT_SECONDS} s);`,
      '"adds" is the median over rounds of the per-round difference to direct (bench/admin/latency.ts).',
      'The entry point checks the token of every request (RS256; an allowed decision kept 1 s by nginx per credential and path;',
      `the Node side caches verifications by SHA-256); plain nginx checks nothing. ${SAME_REQUEST ? 'Every target, direct and plain nginx included, gets the same request with the token header (ignored by them).' : 'Only the entry point gets the token header (SEXTANT_BENCH_SAME_REQUEST=0).'} Ratio = front / nginx requests per second, same run.`,
      'CPU µs/req: CPU time of the proxy (its process and descendants: Node, the nginx master and workers) during the 16-connection run',
      'over the requests it served; in brackets the front\'s Node process alone (the reader of nginx\'s request counters, decisions). wrk, the upstream and',
      'the proxy share the machine\'s CPUs. Upstream CPU µs/req: the master\'s CPU time over the same requests (what each proxy sends it',
      'costs it too: the front sends neither the token nor `Forwarded` to the master\'s APIs, plain nginx passes the token on).',
      '',
      `Machine: ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'CPU'}, load average (1 min) ${load0.toFixed(1)} at the start, ${os.loadavg().map((l) => l.toFixed(1)).join(' ')} at the end (other work shares this machine).`,
      '',
      '### One worker each: nginx `worker_processes 1`, the front with one nginx worker (+ Node behind), the Node entry point on one thread',
      '',
      '| path | direct req/s | nginx req/s | front req/s | front / nginx | front auth_request req/s | Node alone req/s | direct p50 / p99 ms | nginx adds p50 / p99 ms | front adds p50 / p99 ms | front auth_request adds | Node alone adds | CPU µs/req nginx / front / auth_request / Node | upstream CPU µs/req direct / via nginx / via front |',
      '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
      ...rows,
      '',
      `### ${workers} workers each: nginx \`worker_processes ${workers}\` and the front with \`SEXTANT_ENTRY_WORKERS=${workers}\` (nginx workers)`,
      '',
      '| path | direct req/s | nginx req/s | front req/s | front / nginx | nginx adds p50 / p99 ms | front adds p50 / p99 ms | CPU µs/req nginx / front | upstream CPU µs/req via nginx / via front |',
      '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
      ...rowsN,
      '',
      '### Added latency per round (1 connection), ms: median (25th … 75th percentile) of the per-round differences',
      '',
      '| path | proxy | adds p50 | adds p99 | p99 over plain nginx (same worker count) | requests per run (fewest) |',
      '| --- | --- | --- | --- | --- | --- |',
      ...latRows,
      '',
      ...rowsP,
      `Token check in Node: one RS256 verification (jose) ${cost.verifyUs.toFixed(1)} µs; a cached check (SHA-256 of the credential, map lookup) ${cost.cachedUs.toFixed(1)} µs.`,
      '',
    ].join('\n');
  } finally {
    for (const c of procs.reverse()) stop(c);
    await new Promise((r) => setTimeout(r, 300));
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
