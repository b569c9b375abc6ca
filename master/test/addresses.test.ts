/** Address ownership rules of the master's AddressBook, with node addresses off loopback. */
import t from 'tap';
import { AddressBook, parseNamedVipV6Range, parseVipRanges } from '../addresses.js';

const book = () => {
  const b = new AddressBook(['10.96.0.0/12']);
  b.claim(() => [
    { what: 'the master (10.0.0.1)', cidr: '10.0.0.1', kind: 'node' },
    { what: 'agent S1 (10.96.0.7)', cidr: '10.96.0.7', kind: 'node' },
    { what: 'overlay network "dcos"', cidr: '9.0.0.0/8', kind: 'overlay' },
  ]);
  return b;
};

t.test('literal-IP VIPs', async (t) => {
  const b = book();
  t.equal(b.vipRefusal('11.2.3.4'), undefined, 'named-VIP range');
  t.equal(b.vipRefusal('10.96.1.1'), undefined, 'operator range');
  t.match(b.vipRefusal('10.96.0.7'), /belongs to agent S1/, "an agent's own address inside a VIP range");
  t.match(b.vipRefusal('10.0.0.1'), /belongs to the master/);
  t.match(b.vipRefusal('9.0.0.5'), /overlay network "dcos"/);
  t.match(b.vipRefusal('127.0.0.1'), /loopback/);
  t.match(b.vipRefusal('::ffff:127.0.0.1'), /loopback/, 'IPv4-mapped loopback');
  t.match(b.vipRefusal('fe80::1'), /link-local/);
  t.match(b.vipRefusal('ff02::1'), /multicast/);
  t.match(b.vipRefusal('255.255.255.255'), /broadcast/);
  t.match(b.vipRefusal('192.168.1.1'), /outside the VIP ranges \(11\.0\.0\.0\/8, fd01:c::\/64, 10\.96\.0\.0\/12/);
});

t.test('virtual network subnets', async (t) => {
  const b = book();
  t.equal(b.subnetRefusal('10.200.0.0/16'), undefined);
  t.match(b.subnetRefusal('10.0.0.0/24'), /overlaps the master \(10\.0\.0\.1\)/, "a node's address");
  t.match(b.subnetRefusal('10.64.0.0/10'), /VIP range 10\.96\.0\.0\/12/);
  t.match(b.subnetRefusal('9.1.0.0/16'), /overlay network "dcos"/);
  t.equal(b.subnetRefusal('9.1.0.0/16', (c) => c.kind === 'overlay'), undefined, 'claims can be left out');
  t.match(b.subnetRefusal('0.0.0.0/0'), /"this network"/);
});

t.test('agent addresses', async (t) => {
  const b = book();
  t.equal(b.nodeRefusal('127.0.0.2'), undefined, 'loopback agents (sextant up)');
  t.match(b.nodeRefusal('10.96.3.3'), /inside the VIP range 10\.96\.0\.0\/12/);
  t.match(b.nodeRefusal('9.9.9.9'), /overlay network/);
  t.match(b.nodeRefusal('224.1.1.1'), /multicast/);
});

t.test('SEXTANT_VIP_RANGES', async (t) => {
  t.same(parseVipRanges(' 10.96.0.0/12, fd02::/64 '), ['10.96.0.0/12', 'fd02::/64']);
  t.same(parseVipRanges(undefined), []);
  t.throws(() => parseVipRanges('10.0.0.1'), { name: 'ConfigError', message: /is not a CIDR/ });
  t.throws(() => parseVipRanges('127.0.0.0/8'), { name: 'ConfigError', message: /overlaps loopback/ });
});

t.test('IPv6 VIPs: the named range is configurable (SEXTANT_VIP_V6_RANGE), the operator list adds to it', async (t) => {
  const def = new AddressBook(['fd02:1::/64']);
  t.same(def.namedVipRanges, { 4: '11.0.0.0/8', 6: 'fd01:c::/64' }, 'default named ranges');
  t.equal(def.vipRefusal('fd01:c::10'), undefined, 'default named v6 range');
  t.equal(def.vipRefusal('fd02:1::10'), undefined, 'operator v6 range');
  t.match(def.vipRefusal('fd03::1'), /outside the VIP ranges/);
  t.match(def.vipRefusal('::1'), /loopback/);
  t.match(def.vipRefusal('fe80::10'), /link-local/);
  t.match(def.vipRefusal('ff05::2'), /multicast/);
  t.match(def.vipRefusal('::'), /unspecified/);
  const moved = new AddressBook([], parseNamedVipV6Range('fd99:5::/112'));
  t.same(moved.namedVipRanges, { 4: '11.0.0.0/8', 6: 'fd99:5::/112' });
  t.equal(moved.vipRefusal('fd99:5::7'), undefined, 'inside the configured named range');
  t.match(moved.vipRefusal('fd01:c::10'), /outside the VIP ranges \(11\.0\.0\.0\/8, fd99:5::\/112;/, 'the default is replaced, not added');
  t.match(moved.nodeRefusal('fd99:5::9'), /inside the VIP range fd99:5::\/112/, 'an agent may not sit in it');
  t.match(moved.subnetRefusal('fd99:5::/120'), /overlaps the VIP range fd99:5::\/112/, 'a network may not overlap it');
  t.equal(parseNamedVipV6Range(undefined), 'fd01:c::/64');
  t.equal(parseNamedVipV6Range(' fd02:c:0::/64 '), 'fd02:c::/64', 'canonical form');
  for (const [bad, re] of [
    ['11.0.0.0/8', /not an IPv6 range/],
    ['fd02::/48', /prefix must be \/64 to \/120/],
    ['fd02::/124', /prefix must be \/64 to \/120/],
    ['fe80::/64', /link-local/],
    ['fd02::1', /not a CIDR/],
    ['fd02::/64,fd03::/64', /more than one/],
  ] as const)
    t.throws(() => parseNamedVipV6Range(bad), { name: 'ConfigError', message: re }, bad);
});
