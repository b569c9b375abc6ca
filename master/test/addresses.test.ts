/** Address ownership rules of the master's AddressBook, with node addresses off loopback. */
import t from 'tap';
import { AddressBook, parseVipRanges } from '../addresses.js';

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
