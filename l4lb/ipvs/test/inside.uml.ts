/**
 * Runs INSIDE the User-Mode-Linux kernel (started by ipvs.test.ts through runInUml): the l4lb
 * driver contract against the ipvs driver, `ipvsadm -Ln` against `dump()`, and real traffic to VIPs
 * with backends in network namespaces of the UML kernel. Prints TAP; the host test reads it.
 * Refuses to run anywhere but inside UML (it changes the kernel's main namespace).
 */
import t, { type Test } from 'tap';
import { execFile, spawn } from 'node:child_process';
import net from 'node:net';
import dgram from 'node:dgram';
import { promisify } from 'node:util';
import { IpvsDriver } from '../driver.js';
import { runDriverContract } from '../../test/contract.js';
import { normalize, serviceKey } from '../../services.js';
import type { Service } from '../../driver.js';
import { parseIpvsadm } from './ipvsadm.js';
import { probeDriver } from '../../probe.js';

const pexec = promisify(execFile);
const NODE = process.env.SEXTANT_UML_NODE ?? process.execPath;
const IPTABLES = 'iptables-legacy';

// Address plan: contract 11.0.0.1-4 -> 10.1.0.1-4, fd01:c::1-4 -> fd77:1::1-4 (no hosts); ipvsadm check 11.0.1.x;
// traffic 11.0.2.x -> backends b1 10.9.1.2, b2 10.9.2.2 in their own namespaces; IPv6 traffic
// fd01:c::2:x -> c1 fd79:1::2, c2 fd79:2::2.
const B = [
  { ns: 'b1', ip: '10.9.1.2', gw: '10.9.1.1' },
  { ns: 'b2', ip: '10.9.2.2', gw: '10.9.2.1' },
];
const B6 = [
  { ns: 'c1', ip: 'fd79:1::2', gw: 'fd79:1::1' },
  { ns: 'c2', ip: 'fd79:2::2', gw: 'fd79:2::1' },
];
const TCP_PORT = 8080;
const UDP_PORT = 8081;

async function sh(cmd: string, ...args: string[]): Promise<string> {
  const { stdout } = await pexec(cmd, args, { maxBuffer: 64 << 20 });
  return stdout;
}

function svc(vip: string, port: number, protocol: 'tcp' | 'udp', backends: [string, number, number][]): Service {
  return { key: serviceKey(protocol, vip, port), vip, port, protocol, backends: backends.map(([ip, p, weight]) => ({ ip, port: p, weight })) };
}

if (process.env.SEXTANT_UML !== '1') {
  t.fail('inside.uml.ts runs only inside User-Mode-Linux (ipvs.test.ts starts it)');
} else {
  // tap's default 30 s bounds this whole file, and the suite takes 25-30 s in UML on a busy machine
  // (a fresh-clone CI run timed out in its last test); the host bounds the UML run at 240 s.
  t.setTimeout(200_000);
  t.test('ipvs driver satisfies the l4lb driver contract', async (t) => {
    await runDriverContract(t, async (_t, family) => ({
      driver: new IpvsDriver({ iptables: IPTABLES }),
      vip: (i) => ({ ip: family === 4 ? `11.0.0.${i + 1}` : `fd01:c::${i + 1}`, port: 80 + i }),
      backend: (i) => ({ ip: family === 4 ? `10.1.0.${i + 1}` : `fd77:1::${i + 1}`, port: 8080 + i }),
      tamper: async () => void (await sh('ipvsadm', '-C')),
    }));
  });

  t.test('probeDriver(auto) picks ipvs where the IPVS family resolves', async (t) => {
    const d = await probeDriver('auto', { ipvs: { iptables: IPTABLES } });
    t.equal(d.name, 'ipvs', 'auto chose ipvs');
    await d.stop();
  });

  t.test('ipvsadm -Ln agrees with dump(), for wlc and mh', async (t) => {
    for (const scheduler of ['wlc', 'mh']) {
      const d = new IpvsDriver({ iptables: IPTABLES, scheduler });
      await d.start();
      const want = [svc('11.0.1.1', 80, 'tcp', [['10.1.1.1', 8080, 1], ['10.1.1.2', 8080, 0]]), svc('11.0.1.2', 53, 'udp', [['10.1.1.3', 5353, 3]])];
      await d.apply(want);
      const seen = parseIpvsadm(await sh('ipvsadm', '-Ln'));
      t.same(seen.map(({ sched: _s, forward: _f, ...rest }) => rest), await d.dump(), `${scheduler}: ipvsadm shows what dump() returns`);
      t.same(normalize(want), await d.dump(), `${scheduler}: dump() is what was applied`);
      t.ok(seen.every((s) => s.sched === scheduler), `${scheduler}: every service uses the scheduler`);
      t.ok(seen.every((s) => s.forward.every((f) => f === 'Masq')), `${scheduler}: every destination is masqueraded`);
      const routes = await sh('ip', '-j', 'route', 'show', 'table', 'local', 'dev', 'minuteman');
      t.same((JSON.parse(routes) as { dst: string }[]).map((r) => r.dst).sort(), ['11.0.1.1', '11.0.1.2'], `${scheduler}: VIPs are local routes on minuteman`);
      t.equal((await sh('cat', '/proc/sys/net/ipv4/vs/conntrack')).trim(), '1', 'net.ipv4.vs.conntrack=1');
      await d.apply([]);
      t.equal(parseIpvsadm(await sh('ipvsadm', '-Ln')).length, 0, `${scheduler}: empty after apply([])`);
      await d.stop();
    }
  });

  t.test('a VIP on two ports keeps its route until its last service goes', async (t) => {
    const d = new IpvsDriver({ iptables: IPTABLES });
    await d.start();
    const a80 = svc('11.0.4.1', 80, 'tcp', [['10.1.4.1', 8080, 1]]);
    const a443 = svc('11.0.4.1', 443, 'tcp', [['10.1.4.1', 8443, 1]]);
    const b80 = svc('11.0.4.2', 80, 'udp', [['10.1.4.2', 8080, 1]]);
    const vips = async () => (await minutemanRoutes()).map((r) => r.dst).sort();
    const steps: [string, Service[], string[]][] = [
      ['both ports and a second VIP', [a80, a443, b80], ['11.0.4.1', '11.0.4.2']],
      ['one port of 11.0.4.1 gone: its route stays', [a443, b80], ['11.0.4.1', '11.0.4.2']],
      ['the last service of 11.0.4.2 gone: its route goes', [a443], ['11.0.4.1']],
      ['a port added back to a routed VIP', [a80, a443], ['11.0.4.1']],
      ['everything gone', [], []],
    ];
    for (const [name, want, routes] of steps) {
      await d.apply(want);
      t.same(await vips(), routes, `${name}: routes`);
      t.same(await d.dump(), normalize(want), `${name}: services`);
      t.match(await d.reconcile(want), { added: 0, removed: 0, changed: 0, rules: 0 }, `${name}: a reconcile against the kernel finds nothing to repair`);
    }
    await d.stop();
  });

  t.test('a nodeIp that is not an address here: no preferred source, every flow masqueraded', async (t) => {
    const d = new IpvsDriver({ iptables: IPTABLES, nodeIp: '10.99.99.99' });
    await d.start();
    await d.apply([svc('11.0.3.1', 80, 'tcp', [['10.1.3.1', 8080, 1]])]);
    const routes = await minutemanRoutes();
    t.same(routes.map((r) => [r.dst, r.prefsrc ?? null]), [['11.0.3.1', null]], 'route without a source');
    const chain = (await sh(IPTABLES, '-w', '-t', 'nat', '-S', 'SEXTANT-IPVS')).split('\n').filter((l) => l.startsWith('-A'));
    t.equal(chain.length, 1, 'one rule');
    t.match(chain[0], /--vmethod MASQ .*-j MASQUERADE/, 'masquerade every IPVS flow');
    await d.apply([]);
    await d.stop();
  });

  t.test('traffic through VIPs reaches backends in namespaces', async (t) => {
    await sh('sysctl', '-qw', 'net.ipv4.ip_forward=1');
    for (const [i, b] of B.entries()) {
      await sh('ip', 'netns', 'add', b.ns);
      await sh('ip', 'link', 'add', `v${b.ns}`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', b.ns);
      await sh('ip', 'addr', 'add', `${b.gw}/24`, 'dev', `v${b.ns}`);
      await sh('ip', 'link', 'set', `v${b.ns}`, 'up');
      await sh('ip', '-n', b.ns, 'addr', 'add', `${b.ip}/24`, 'dev', 'eth0');
      await sh('ip', '-n', b.ns, 'link', 'set', 'eth0', 'up');
      await sh('ip', '-n', b.ns, 'link', 'set', 'lo', 'up');
      await sh('ip', '-n', b.ns, 'route', 'add', 'default', 'via', b.gw);
      await startBackend(t, b.ns, `backend${i + 1}`);
    }
    // The node's address (as the agent plugin passes its own): the UML main namespace's side of b1's veth.
    const nodeIp = B[0]!.gw;
    const d = new IpvsDriver({ iptables: IPTABLES, nodeIp });
    await d.start();
    t.teardown(() => d.stop());
    const [b1, b2] = [B[0]!.ip, B[1]!.ip];
    const spread = svc('11.0.2.1', 80, 'tcp', [[b1, TCP_PORT, 1], [b2, TCP_PORT, 1]]);
    const udp = svc('11.0.2.2', 53, 'udp', [[b1, UDP_PORT, 1], [b2, UDP_PORT, 1]]);
    const hairpin = svc('11.0.2.3', 80, 'tcp', [[b1, TCP_PORT, 1]]);
    await d.apply([spread, udp, hairpin]);

    const routes = await minutemanRoutes();
    t.same(routes.map((r) => r.prefsrc), routes.map(() => nodeIp), `VIP routes prefer the node address ${nodeIp} as source`);
    const masq = await masqCounters();
    const counts = await tally(20, () => tcpHello('11.0.2.1', 80));
    t.ok((counts.backend1 ?? 0) >= 5 && (counts.backend2 ?? 0) >= 5, `TCP connections spread over both backends ${JSON.stringify(counts)}`);

    const ucounts = await tally(10, () => udpHello('11.0.2.2', 53));
    t.ok((ucounts.backend1 ?? 0) > 0 && (ucounts.backend2 ?? 0) > 0, `UDP VIP answers from both backends ${JSON.stringify(ucounts)}`);

    await d.apply([svc('11.0.2.1', 80, 'tcp', [[b1, TCP_PORT, 1], [b2, TCP_PORT, 0]]), udp, hairpin]);
    const drained = await tally(10, () => tcpHello('11.0.2.1', 80));
    t.same(drained, { backend1: 10 }, 'a backend at weight 0 gets no new connections');

    await d.apply([svc('11.0.2.1', 80, 'tcp', [[b1, TCP_PORT, 1]]), udp, hairpin]);
    t.same(await tally(5, () => tcpHello('11.0.2.1', 80)), { backend1: 5 }, 'a removed backend gets no connections');

    await sh('ip', 'route', 'replace', 'local', '11.0.2.1/32', 'dev', 'minuteman', 'table', 'local');
    await d.reconcile([spread, udp, hairpin]);
    const fixed = await minutemanRoutes();
    t.equal(fixed.find((r) => r.dst === '11.0.2.1')?.prefsrc, nodeIp, 'reconcile puts the source back on a route replaced without it');
    const mid = await masqCounters();
    t.ok(mid.nodeSource >= masq.nodeSource + 20, `the node's own TCP connections skip MASQUERADE (RETURN rule: ${mid.nodeSource - masq.nodeSource} packets)`);
    t.equal(mid.masquerade, masq.masquerade, 'and are not masqueraded');
    const fromB1 = await sh('ip', 'netns', 'exec', B[0]!.ns, NODE, '-e', CLIENT, '11.0.2.3', '80');
    t.equal(fromB1.trim(), 'backend1', 'hairpin: a backend reaches itself through the VIP (masquerade)');
    t.ok((await masqCounters()).masquerade > mid.masquerade, 'the hairpin flow was masqueraded');
    await sh(IPTABLES, '-w', '-t', 'nat', '-F', 'SEXTANT-IPVS');
    await t.rejects(sh('ip', 'netns', 'exec', B[0]!.ns, NODE, '-e', CLIENT, '11.0.2.3', '80'), 'hairpin fails without the masquerade rule (someone flushed it)');
    await d.reconcile([spread, udp, hairpin]);
    // The failed attempt above can leave an IPVS entry for a source port the next client reuses
    // (answered with a reset): a few fresh connections, bounded.
    let again = '';
    for (let i = 0; i < 5 && !again; i++) again = await sh('ip', 'netns', 'exec', B[0]!.ns, NODE, '-e', CLIENT, '11.0.2.3', '80').catch(() => '');
    t.equal(again.trim(), 'backend1', 'reconcile restores the masquerade rule: hairpin works again');

    await d.apply([]);
    await t.rejects(tcpHello('11.0.2.1', 80), 'no VIP after removal');
  });

  t.test('IPv6: traffic through v6 VIPs (TCP and UDP spread, drain, removal, hairpin)', async (t) => {
    await sh('sysctl', '-qw', 'net.ipv6.conf.all.forwarding=1');
    for (const [i, b] of B6.entries()) {
      await sh('ip', 'netns', 'add', b.ns);
      await sh('ip', 'link', 'add', `v${b.ns}`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', b.ns);
      await sh('ip', 'addr', 'add', `${b.gw}/64`, 'dev', `v${b.ns}`, 'nodad');
      await sh('ip', 'link', 'set', `v${b.ns}`, 'up');
      await sh('ip', '-n', b.ns, 'addr', 'add', `${b.ip}/64`, 'dev', 'eth0', 'nodad');
      await sh('ip', '-n', b.ns, 'link', 'set', 'eth0', 'up');
      await sh('ip', '-n', b.ns, 'link', 'set', 'lo', 'up');
      await sh('ip', '-n', b.ns, '-6', 'route', 'add', 'default', 'via', b.gw);
      await startBackend(t, b.ns, `backend${i + 1}`);
    }
    const d = new IpvsDriver({ iptables: IPTABLES });
    await d.start();
    t.teardown(() => d.stop());
    const [b1, b2] = [B6[0]!.ip, B6[1]!.ip];
    const spread = svc('fd01:c::2:1', 80, 'tcp', [[b1, TCP_PORT, 1], [b2, TCP_PORT, 1]]);
    const udp = svc('fd01:c::2:2', 53, 'udp', [[b1, UDP_PORT, 1], [b2, UDP_PORT, 1]]);
    const hairpin = svc('fd01:c::2:3', 80, 'tcp', [[b1, TCP_PORT, 1]]);
    await d.apply([spread, udp, hairpin]);
    t.same(normalize([spread, udp, hairpin]), await d.dump(), 'dump() is what was applied');
    t.match(await sh('ip6tables-legacy', '-w', '-t', 'nat', '-S', 'SEXTANT-IPVS'), /--vmethod MASQ .*-j MASQUERADE/, 'the v6 masquerade rule is in ip6tables');

    const counts = await tally(20, () => tcpHello('fd01:c::2:1', 80));
    t.ok((counts.backend1 ?? 0) >= 5 && (counts.backend2 ?? 0) >= 5, `TCP connections spread over both backends ${JSON.stringify(counts)}`);
    const ucounts = await tally(10, () => udpHello('fd01:c::2:2', 53));
    t.ok((ucounts.backend1 ?? 0) > 0 && (ucounts.backend2 ?? 0) > 0, `UDP VIP answers from both backends ${JSON.stringify(ucounts)}`);
    await d.apply([svc('fd01:c::2:1', 80, 'tcp', [[b1, TCP_PORT, 1], [b2, TCP_PORT, 0]]), udp, hairpin]);
    t.same(await tally(10, () => tcpHello('fd01:c::2:1', 80)), { backend1: 10 }, 'a backend at weight 0 gets no new connections');
    await d.apply([svc('fd01:c::2:1', 80, 'tcp', [[b1, TCP_PORT, 1]]), udp, hairpin]);
    t.same(await tally(5, () => tcpHello('fd01:c::2:1', 80)), { backend1: 5 }, 'a removed backend gets no connections');
    const fromB1 = await sh('ip', 'netns', 'exec', B6[0]!.ns, NODE, '-e', CLIENT, 'fd01:c::2:3', '80');
    t.equal(fromB1.trim(), 'backend1', 'hairpin: a backend reaches itself through the v6 VIP (masquerade)');
    await sh('ip6tables-legacy', '-w', '-t', 'nat', '-F', 'SEXTANT-IPVS');
    await t.rejects(sh('ip', 'netns', 'exec', B6[0]!.ns, NODE, '-e', CLIENT, 'fd01:c::2:3', '80'), 'v6 hairpin fails without the ip6tables masquerade rule');
    await d.reconcile([svc('fd01:c::2:1', 80, 'tcp', [[b1, TCP_PORT, 1]]), udp, hairpin]);
    let again = '';
    for (let i = 0; i < 5 && !again; i++) again = await sh('ip', 'netns', 'exec', B6[0]!.ns, NODE, '-e', CLIENT, 'fd01:c::2:3', '80').catch(() => '');
    t.equal(again.trim(), 'backend1', 'reconcile restores the v6 masquerade rule: hairpin works again');
    await d.apply([]);
    await t.rejects(tcpHello('fd01:c::2:1', 80), 'no VIP after removal');
  });
}

/** The VIP routes on `minuteman` in the local table. */
async function minutemanRoutes(): Promise<{ dst: string; prefsrc?: string }[]> {
  return JSON.parse(await sh('ip', '-j', 'route', 'show', 'table', 'local', 'dev', 'minuteman')) as { dst: string; prefsrc?: string }[];
}

/** Packets that hit the node-source RETURN rule and the MASQUERADE rule of SEXTANT-IPVS (new flows only: nat rules see first packets). */
async function masqCounters(): Promise<{ nodeSource: number; masquerade: number }> {
  const out = await sh(IPTABLES, '-w', '-t', 'nat', '-L', 'SEXTANT-IPVS', '-n', '-v', '-x');
  const count = (target: string) => out.split('\n').filter((l) => l.trim().split(/\s+/)[2] === target).reduce((n, l) => n + Number(l.trim().split(/\s+/)[0]), 0);
  return { nodeSource: count('RETURN'), masquerade: count('MASQUERADE') };
}

const SERVER = `const net=require('net'),dgram=require('dgram');const name=process.argv[1];
net.createServer((s)=>s.end(name+'\\n')).listen(${TCP_PORT},'::',()=>{
const u=dgram.createSocket('udp6');u.on('message',(m,r)=>u.send(name,r.port,r.address));u.bind(${UDP_PORT},()=>console.log('ready'));});`;

const CLIENT = `const s=require('net').connect(+process.argv[2],process.argv[1]);let d='';s.on('data',(c)=>d+=c);
s.on('end',()=>{console.log(d.trim());process.exit(0)});s.on('error',(e)=>{console.error(e.message);process.exit(1)});setTimeout(()=>process.exit(2),5000);`;

async function startBackend(t: Test, ns: string, name: string): Promise<void> {
  const p = spawn('ip', ['netns', 'exec', ns, NODE, '-e', SERVER, name], { detached: true, stdio: ['ignore', 'pipe', 'inherit'] });
  t.teardown(() => {
    try {
      process.kill(-p.pid!, 'SIGKILL');
    } catch {
      /* gone */
    }
  });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} did not start`)), 30_000);
    p.stdout!.on('data', (d: Buffer) => {
      if (d.toString().includes('ready')) {
        clearTimeout(timer);
        resolve();
      }
    });
    p.once('exit', (c) => reject(new Error(`${name} exited ${c}`)));
  });
}

function tcpHello(host: string, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host, port });
    let data = '';
    const timer = setTimeout(() => s.destroy(new Error(`no answer from ${host}:${port}`)), 3000);
    s.on('data', (c) => (data += c));
    s.on('end', () => {
      clearTimeout(timer);
      resolve(data.trim());
    });
    s.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

function udpHello(host: string, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const u = dgram.createSocket(net.isIPv6(host) ? 'udp6' : 'udp4');
    const timer = setTimeout(() => {
      u.close();
      reject(new Error(`no UDP answer from ${host}:${port}`));
    }, 3000);
    u.on('message', (m) => {
      clearTimeout(timer);
      u.close();
      resolve(m.toString());
    });
    u.send('hi', port, host);
  });
}

async function tally(n: number, once: () => Promise<string>): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (let i = 0; i < n; i++) {
    const who = await once();
    out[who] = (out[who] ?? 0) + 1;
  }
  return out;
}
