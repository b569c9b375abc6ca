/** Pure parts of the ipvs driver on the host: genl codec, change planning, ipvsadm parsing, probe. */
import t from 'tap';
import { existsSync } from 'node:fs';
import { attr, decodeDest, decodeService, destAttr, parseAttrs, serviceAttr } from '../codec.js';
import { Cmd, CmdAttr, SvcAttr } from '../constants.js';
import { planChanges, type KernelService } from '../plan.js';
import { parseIpvsadm } from './ipvsadm.js';
import { normalize, serviceKey } from '../../services.js';
import { loadIpvsDriver } from '../../probe.js';
import type { Service } from '../../driver.js';

const svc = (vip: string, port: number, protocol: 'tcp' | 'udp', backends: [string, number, number][]): Service =>
  normalize([{ key: serviceKey(protocol, vip, port), vip, port, protocol, backends: backends.map(([ip, p, weight]) => ({ ip, port: p, weight })) }])[0]!;

t.test('service and destination attributes round-trip through the dump decoder', async (t) => {
  const rows = [
    { addr: '11.0.0.1', port: 80, protocol: 'tcp' as const, sched: 'wlc' },
    { addr: '11.255.0.9', port: 53, protocol: 'udp' as const, sched: 'mh' },
    { addr: 'fd01:c::1', port: 443, protocol: 'tcp' as const, sched: 'wlc' },
  ];
  for (const s of rows) t.same(decodeService(serviceAttr(s, true)), s, `service ${s.protocol}/${s.addr}:${s.port}`);
  const full = parseAttrs(parseAttrs(serviceAttr(rows[0]!, true)).get(CmdAttr.SERVICE)!);
  t.equal(full.get(SvcAttr.PORT)!.readUInt16BE(), 80, 'port in network byte order');
  t.equal(full.get(SvcAttr.ADDR)!.length, 16, 'address as a 16-byte nf_inet_addr');
  t.notOk(parseAttrs(parseAttrs(serviceAttr(rows[0]!, false)).get(CmdAttr.SERVICE)!).has(SvcAttr.SCHED_NAME), 'identity only without full');
  for (const d of [{ addr: '10.1.0.1', port: 8080, weight: 0 }, { addr: 'fd01:b::2', port: 9000, weight: 7 }]) {
    t.same(decodeDest(destAttr(d, true), d.addr.includes(':') ? 10 : 2), { ...d, fwd: 0 }, `destination ${d.addr} weight ${d.weight}`);
  }
});

t.test('bad kernel payloads are named errors, never crashes', async (t) => {
  const good = serviceAttr({ addr: '11.0.0.1', port: 80, protocol: 'tcp' }, true);
  const rows: [string, Buffer][] = [
    ['truncated attribute', good.subarray(0, good.length - 9)],
    ['no service attribute', attr(CmdAttr.DEST, Buffer.alloc(0))],
    ['missing port', attr(CmdAttr.SERVICE, Buffer.concat([attr(SvcAttr.AF, Buffer.from([2, 0])), attr(SvcAttr.PROTOCOL, Buffer.from([6, 0])), attr(SvcAttr.ADDR, Buffer.alloc(16))]))],
    ['sctp service', attr(CmdAttr.SERVICE, Buffer.concat([attr(SvcAttr.AF, Buffer.from([2, 0])), attr(SvcAttr.PROTOCOL, Buffer.from([132, 0])), attr(SvcAttr.ADDR, Buffer.alloc(16)), attr(SvcAttr.PORT, Buffer.from([0, 80]))]))],
  ];
  for (const [name, buf] of rows) t.throws(() => decodeService(buf), { name: 'IpvsCodecError' }, name);
  t.throws(() => serviceAttr({ addr: 'not-an-ip', port: 1, protocol: 'tcp' }, true), { name: 'IpvsCodecError' }, 'bad address from the caller');
});

t.test('planning: minimal commands, in a safe order', async (t) => {
  const a = svc('11.0.0.1', 80, 'tcp', [['10.1.0.1', 8080, 1], ['10.1.0.2', 8080, 1]]);
  const b = svc('11.0.0.2', 53, 'udp', [['10.1.0.3', 53, 1]]);
  const have = (list: Service[], sched = 'wlc') => new Map<string, KernelService>(list.map((s) => [s.key, { ...s, sched }]));
  const cmds = (ops: { cmd: number }[]) => ops.map((o) => Object.entries(Cmd).find(([, v]) => v === o.cmd)![0]);
  const rows: { name: string; have: Map<string, KernelService>; want: Service[]; routes?: Set<string>; expect: object }[] = [
    { name: 'from empty', have: have([]), want: [a, b], expect: { services: ['NEW_SERVICE', 'NEW_SERVICE'], dests: ['NEW_DEST', 'NEW_DEST', 'NEW_DEST'], routesAdd: ['11.0.0.1', '11.0.0.2'], routesDel: [], removals: [], result: { added: 2, removed: 0, changed: 0 } } },
    { name: 'nothing to do', have: have([a, b]), want: [a, b], expect: { services: [], dests: [], routesAdd: [], routesDel: [], removals: [], result: { added: 0, removed: 0, changed: 0 } } },
    { name: 'drain one backend', have: have([a]), want: [svc('11.0.0.1', 80, 'tcp', [['10.1.0.1', 8080, 1], ['10.1.0.2', 8080, 0]])], expect: { services: [], dests: ['SET_DEST'], result: { added: 0, removed: 0, changed: 1 } } },
    { name: 'swap a backend', have: have([a]), want: [svc('11.0.0.1', 80, 'tcp', [['10.1.0.1', 8080, 1], ['10.1.0.9', 8080, 1]])], expect: { dests: ['NEW_DEST', 'DEL_DEST'], result: { changed: 1 } } },
    { name: 'service removed: route first, then the service', have: have([a, b]), want: [a], expect: { dests: [], routesDel: ['11.0.0.2'], removals: ['DEL_SERVICE'], result: { removed: 1 } } },
    { name: 'scheduler changed behind our back', have: have([a], 'rr'), want: [a], expect: { services: ['SET_SERVICE'], dests: [], result: { changed: 1 } } },
    { name: 'route deleted behind our back', have: have([a]), want: [a], routes: new Set(), expect: { services: [], routesAdd: ['11.0.0.1'], result: { added: 0, changed: 0 } } },
    { name: 'foreign route on the interface', have: have([a]), want: [a], routes: new Set(['11.0.0.1', '11.9.9.9']), expect: { routesDel: ['11.9.9.9'] } },
  ];
  for (const r of rows) {
    const p = planChanges(r.have, r.want, 'wlc', r.routes);
    t.match({ ...p, services: cmds(p.services), dests: cmds(p.dests), removals: cmds(p.removals) }, r.expect, r.name);
  }
  const created = planChanges(have([]), [a], 'wlc').services[0]!;
  t.equal(created.onExist?.cmd, Cmd.SET_SERVICE, 'creating an existing service sets it instead (EEXIST is success)');
});

t.test('ipvsadm -Ln parsing', async (t) => {
  const text = `IP Virtual Server version 1.2.1 (size=4096)
Prot LocalAddress:Port Scheduler Flags
  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn
TCP  11.0.1.1:80 wlc
  -> 10.1.1.2:8080                Masq    0      0          0
  -> 10.1.1.1:8080                Masq    1      0          3
UDP  [fd01:c::1]:53 mh
  -> [fd01:b::3]:5353             Masq    3      0          0
`;
  t.same(parseIpvsadm(text), [
    { ...svc('11.0.1.1', 80, 'tcp', [['10.1.1.1', 8080, 1], ['10.1.1.2', 8080, 0]]), sched: 'wlc', forward: ['Masq', 'Masq'] },
    { ...svc('fd01:c::1', 53, 'udp', [['fd01:b::3', 5353, 3]]), sched: 'mh', forward: ['Masq'] },
  ]);
});

t.test('probe hook: probeDriver loads this driver; it is available only where IPVS resolves', async (t) => {
  const d = await loadIpvsDriver({ scheduler: 'mh' });
  t.not(typeof d, 'string', `l4lb/probe.ts loads l4lb/ipvs: ${typeof d === 'string' ? d : 'ok'}`);
  if (typeof d === 'string') return;
  t.equal(d.name, 'ipvs');
  const probe = await d.available();
  // /proc/net/ip_vs exists exactly when the ip_vs module is loaded in this kernel.
  if (existsSync('/proc/net/ip_vs')) t.same(probe, { ok: true }, 'IPVS present: available');
  else t.match(probe, { ok: false, reason: /IPVS/ }, 'no IPVS in this kernel: unavailable, saying why');
});
