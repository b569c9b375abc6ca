/**
 * ctnetlink messages (ct-decode.ts): the dump request the driver sends, and flows read back from
 * dump replies and destroy events built here the way the kernel lays them out (nested tuples,
 * big-endian counters and ports), with the message kinds and protocols that must be skipped.
 */
import t from 'tap';
import { Writer } from '../../nft/encode.js';
import { IPS_DST_NAT, dumpRequest, parseFlows } from '../ct-decode.js';

const NESTED = 0x8000;
const CT = (msg: number) => (1 << 8) | msg;

interface Side {
  src: string;
  dst: string;
  sport: number;
  dport: number;
}

function ipBytes(ip: string): Buffer {
  if (!ip.includes(':')) return Buffer.from(ip.split('.').map(Number));
  // Enough for the test addresses: `a:b::c` forms.
  const [head, tail] = ip.split('::') as [string, string | undefined];
  const h = head ? head.split(':') : [];
  const tl = tail ? tail.split(':') : [];
  const words = [...h, ...new Array(8 - h.length - tl.length).fill('0'), ...tl].map((w) => parseInt(w, 16));
  const b = Buffer.alloc(16);
  words.forEach((w, i) => b.writeUInt16BE(w, i * 2));
  return b;
}

function tuple(w: Writer, type: number, s: Side, proto: number): void {
  const v6 = s.src.includes(':');
  const at = w.begin(type | NESTED);
  const ip = w.begin(1 | NESTED);
  for (const [k, a] of [[v6 ? 3 : 1, s.src], [v6 ? 4 : 2, s.dst]] as const) {
    const x = w.begin(k);
    w.bytes(ipBytes(a));
    w.endAttr(x);
  }
  w.endAttr(ip);
  const p = w.begin(2 | NESTED);
  const n = w.begin(1);
  w.bytes(Buffer.from([proto, 0, 0, 0]));
  w.len -= 3;
  w.endAttr(n);
  for (const [k, port] of [[2, s.sport], [3, s.dport]] as const) {
    const x = w.begin(k);
    const b = Buffer.alloc(4);
    b.writeUInt16BE(port);
    w.bytes(b);
    w.len -= 2;
    w.endAttr(x);
  }
  w.endAttr(p);
  w.endAttr(at);
}

function counters(w: Writer, type: number, bytes: number): void {
  const at = w.begin(type | NESTED);
  for (const [k, v] of [[1, 1n], [2, BigInt(bytes)]] as const) {
    const x = w.begin(k);
    const b = Buffer.alloc(8);
    b.writeBigUInt64BE(v);
    w.bytes(b);
    w.endAttr(x);
  }
  w.endAttr(at);
}

function flowMsg(w: Writer, o: { msg: number; orig: Side; reply: Side; proto?: number; id: number; status: number; mark?: number; bytes?: [number, number] }): void {
  const at = w.beginMsg(CT(o.msg), 0, 0, o.orig.src.includes(':') ? 10 : 2, 0);
  tuple(w, 1, o.orig, o.proto ?? 6);
  tuple(w, 2, o.reply, o.proto ?? 6);
  w.u32be(3, o.status);
  if (o.mark !== undefined) w.u32be(8, o.mark);
  if (o.bytes) {
    counters(w, 9, o.bytes[0]);
    counters(w, 10, o.bytes[1]);
  }
  w.u32be(12, o.id);
  w.endMsg(at);
}

t.test('dump request: a CT_GET dump filtered on the mark bits, both families', async (t) => {
  const b = dumpRequest(7, 0x40000000);
  t.equal(b.readUInt32LE(0), b.length, 'one message, its length');
  t.equal(b.readUInt16LE(4), CT(1), 'IPCTNL_MSG_CT_GET');
  t.equal(b.readUInt16LE(6), 0x301, 'NLM_F_REQUEST | NLM_F_DUMP');
  t.equal(b.readUInt32LE(8), 7, 'sequence');
  t.equal(b[16], 0, 'AF_UNSPEC: both families');
  // CTA_MARK then CTA_MARK_MASK, each 8 bytes, value big-endian.
  t.same([b.readUInt16LE(22), b.readUInt32BE(24), b.readUInt16LE(30), b.readUInt32BE(32)], [8, 0x40000000, 21, 0x40000000]);
});

t.test('flows from dump replies and destroy events', async (t) => {
  const w = new Writer(0);
  const dnat = IPS_DST_NAT | 0x8; // + confirmed
  flowMsg(w, { msg: 0, orig: { src: '10.86.0.3', dst: '11.0.0.1', sport: 40000, dport: 80 }, reply: { src: '10.86.0.1', dst: '10.86.0.3', sport: 7000, dport: 40000 }, id: 11, status: dnat, mark: 0x40000000, bytes: [300, 500] });
  flowMsg(w, { msg: 2, orig: { src: 'fd86::3', dst: 'fd01:c::1', sport: 40001, dport: 80 }, reply: { src: 'fd86::1', dst: 'fd86::3', sport: 7000, dport: 40001 }, id: 12, status: dnat, bytes: [60, 0], proto: 17 });
  flowMsg(w, { msg: 0, orig: { src: '10.86.0.3', dst: '11.0.0.1', sport: 1, dport: 0 }, reply: { src: '10.86.0.1', dst: '10.86.0.3', sport: 0, dport: 1 }, id: 13, status: 0, proto: 1 });
  const done = w.beginMsg(3, 2, 0, 0, 0);
  w.endMsg(done);
  const err = w.beginMsg(2, 0, 0, 0, 0); // NLMSG_ERROR: errno -EPERM, then the header of the request
  w.u32be(0, 0);
  w.endMsg(err);
  w.buf.writeInt32LE(-1, err + 16);
  const errors: number[] = [];
  t.same(parseFlows(w.buf.subarray(0, w.len), errors), [
    { id: 11, family: 4, protocol: 'tcp', vipIp: '11.0.0.1', vipPort: 80, backendIp: '10.86.0.1', backendPort: 7000, bytes: 800, status: dnat, mark: 0x40000000, destroyed: false },
    { id: 12, family: 6, protocol: 'udp', vipIp: 'fd01:c::1', vipPort: 80, backendIp: 'fd86::1', backendPort: 7000, bytes: 60, status: dnat, destroyed: true },
  ], 'both ways summed; the VIP from the original tuple, the backend from the reply; ICMP and non-flow messages skipped');
  t.same(errors, [1], 'error replies are reported');
  t.same(parseFlows(Buffer.alloc(0)), []);
  t.same(parseFlows(Buffer.from([1, 2, 3])), [], 'a truncated buffer yields nothing');
});
