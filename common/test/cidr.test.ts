/** Table tests of the one CIDR module (IPv4 and IPv6), rows from overlay/ and cni/ipam/ uses. */
import t from 'tap';
import { contains, formatCidr, formatIp, formatIp4, halves, hostAddr, hostRange, overlaps, parseCidr, parseIp, parseIp4, size, subnetAt, subnetCount } from '../cidr.js';

const c = (s: string) => parseCidr(s)!;

t.test('parse and format', async (t) => {
  const rows: [string, boolean, string | undefined][] = [
    ['9.0.1.0/24', true, '9.0.1.0/24'],
    ['9.0.1.7/25', false, '9.0.1.0/25'],
    ['9.0.1.7/25', true, undefined],
    ['0.0.0.0/0', true, '0.0.0.0/0'],
    ['255.255.255.255/32', true, '255.255.255.255/32'],
    ['fd01:b::/64', true, 'fd01:b::/64'],
    ['FD01:000b:0:0:0:0:0:0/64', true, 'fd01:b::/64'],
    ['2001:db8:0:0:1:0:0:1/128', true, '2001:db8::1:0:0:1/128'],
    ['fd01:b::1/64', false, 'fd01:b::/64'],
    ['9.0.1.0', true, undefined],
    ['9.0.1.0/33', true, undefined],
    ['fd01::/129', true, undefined],
    ['9.0.256.0/24', true, undefined],
    ['10/8', true, undefined],
    ['0x0a.0.0.0/8', true, undefined],
    ['x/24', true, undefined],
    ['9.0.1.0/24/1', true, undefined],
  ];
  for (const [input, strict, want] of rows) {
    const p = parseCidr(input, strict);
    t.equal(p ? formatCidr(p) : undefined, want, `${input} strict=${strict}`);
  }
  t.same(parseIp('10.1.2.3'), { family: 4, value: 0x0a010203n });
  t.equal(parseIp('fd00::1')?.family, 6);
  for (const bad of ['1.2.3', '9.0.1.02', '10', '0x0a.0.0.1', ' 1.2.3.4', 'fe80::1%eth0', '1::2::3', '']) t.equal(parseIp(bad), undefined, `not an address: ${JSON.stringify(bad)}`);
  t.same(parseIp('::ffff:1.2.3.4'), { family: 6, value: 0xffff01020304n }, 'IPv4-mapped IPv6');
  t.equal(formatIp(6, (0xfdn << 120n) | 1n), 'fd00::1');
  t.equal(formatIp4(parseIp4('200.1.2.3')!), '200.1.2.3');
  t.equal(parseIp4('fd00::1'), undefined, 'parseIp4 takes IPv4 only');
});

t.test('arithmetic', async (t) => {
  t.equal(size(c('9.0.0.0/8')), 1n << 24n);
  t.equal(size(c('fd01:b::/64')), 1n << 64n);
  t.ok(overlaps(c('9.0.0.0/8'), c('9.1.0.0/16')));
  t.ok(overlaps(c('9.1.0.0/16'), c('9.0.0.0/8')));
  t.notOk(overlaps(c('9.0.0.0/16'), c('9.1.0.0/16')));
  t.notOk(overlaps(c('0.0.0.0/0'), c('::/0')), 'families never overlap');
  t.ok(contains(c('9.0.1.0/24'), parseIp4('9.0.1.77')!));
  t.notOk(contains(c('9.0.1.0/24'), parseIp4('9.0.2.1')!));
  t.equal(subnetCount(c('9.0.0.0/8'), 24), 65536n);
  t.equal(formatCidr(subnetAt(c('9.0.0.0/8'), 24, 258n)), '9.1.2.0/24');
  t.same(halves(c('9.0.1.0/24')).map(formatCidr), ['9.0.1.0/25', '9.0.1.128/25']);
  t.same(halves(c('fd01:b::/64')).map(formatCidr), ['fd01:b::/65', 'fd01:b:0:0:8000::/65']);
  t.equal(hostAddr(c('9.0.1.0/25'), 1n), '9.0.1.1/25');
  t.equal(hostAddr(c('fd01:b::/65'), 1n), 'fd01:b::1/65');
});

t.test('host range', async (t) => {
  const rows: [string, string, string][] = [
    ['9.0.1.0/24', '9.0.1.1', '9.0.1.254'],
    ['9.0.1.128/25', '9.0.1.129', '9.0.1.254'],
    ['10.0.0.0/30', '10.0.0.1', '10.0.0.2'],
    ['10.0.0.4/31', '10.0.0.4', '10.0.0.5'],
    ['10.0.0.9/32', '10.0.0.9', '10.0.0.9'],
  ];
  for (const [cidr, first, last] of rows) {
    const r = hostRange(parseCidr(cidr)!);
    t.same([formatIp4(r.first), formatIp4(r.last)], [first, last], cidr);
  }
});
