// The HA fault suite's data-plane client (test/e2e/fault-netns.test.ts), run in an agent's
// network namespace: in a bounded loop it resolves NAME through the agent's dispatcher (DNS
// server IP:53) and makes an HTTP request to the VIP (VIPNAME, resolved once the same way, port
// 80). Every failure is one JSON line on stdout at once; on SIGTERM, MAX_S seconds or
// MAX_N rounds it prints {"summary": ...} and exits 0. A failed lookup says how long it took and the
// longest this process's own event loop stood still meanwhile (a starved client times out too).
// Usage: node fault-probe.mjs DNS_IP NAME VIPNAME MAX_S MAX_N
import dns from 'node:dns';
import http from 'node:http';
import { monitorEventLoopDelay } from 'node:perf_hooks';

const [server, name, vipName, maxS = '1200', maxN = '100000'] = process.argv.slice(2);
if (!server || !name || !vipName) {
  process.stderr.write('usage: node fault-probe.mjs DNS_IP NAME VIPNAME [MAX_S] [MAX_N]\n');
  process.exit(2);
}
const resolver = new dns.promises.Resolver({ timeout: 3000, tries: 2 });
resolver.setServers([server]);
const counts = { lookups: 0, lookupFailures: 0, connects: 0, connectFailures: 0 };
const end = Date.now() + Number(maxS) * 1000;
let stopping = false;
const out = (o) => process.stdout.write(`${JSON.stringify(o)}\n`);
process.on('SIGTERM', () => (stopping = true));

function get(ip) {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: ip, port: 80, path: '/', timeout: 5000, agent: false }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => (res.statusCode === 200 ? resolve(body) : reject(new Error(`HTTP ${res.statusCode}`))));
    });
    req.on('timeout', () => req.destroy(new Error('timeout after 5 s')));
    req.on('error', reject);
  });
}

let vip;
for (let i = 0; i < 50 && !vip; i++) {
  vip = (await resolver.resolve4(vipName).catch(() => []))[0];
  if (!vip) await new Promise((r) => setTimeout(r, 200));
}
if (!vip) {
  out({ summary: { ...counts, error: `${vipName} did not resolve through ${server}` } });
  process.exit(0);
}
out({ ready: { vip } });
const loop = monitorEventLoopDelay({ resolution: 20 });
loop.enable();
for (let n = 0; !stopping && n < Number(maxN) && Date.now() < end; n++) {
  const t = new Date().toISOString();
  counts.lookups++;
  const t0 = performance.now();
  loop.reset();
  try {
    const a = await resolver.resolve4(name);
    if (!a.length) throw new Error('no A records');
  } catch (e) {
    counts.lookupFailures++;
    out({ failure: 'lookup', name, at: t, error: e.message, ms: Math.round(performance.now() - t0), probeLoopMaxMs: Math.round(loop.max / 1e6) });
  }
  counts.connects++;
  try {
    await get(vip);
  } catch (e) {
    counts.connectFailures++;
    out({ failure: 'connect', vip, at: t, error: e.message });
  }
  await new Promise((r) => setTimeout(r, 100)); // the probe's pace, not a wait for an event
}
out({ summary: { ...counts, vip } });
process.exit(0);
