import t from 'tap';
import { ConfigError } from '../../common/index.js';
import { buildRuleset, buildRuleset6 } from '../nft.js';
import { DEFAULT_NETWORKS, dualStackDefaultNetworks, parseNetwork, parseOverlayConfig, parsePolicy, parseRule, vtepMac } from '../index.js';

/** The field a parser's ConfigError names (undefined when it did not throw one). */
function failure(fn: () => unknown): { field?: string; reason?: string } {
  try {
    fn();
  } catch (e) {
    if (e instanceof ConfigError) return { field: e.field, reason: e.reason };
    throw e;
  }
  return {};
}

const existing = DEFAULT_NETWORKS; // dcos 9.0.0.0/8
const withHr = [...existing, { key: 'hr', name: 'hr', subnet: '10.10.0.0/16', prefix: 24, mtu: 1420 }];

t.test('network definitions: bad input names the field', async (t) => {
  const rows: [string, unknown, string, RegExp][] = [
    ['name too long', { name: 'abcdefghijklmn', subnet: '10.1.0.0/16' }, 'name', /at most 13/],
    ['reserved name', { name: 'host', subnet: '10.1.0.0/16' }, 'name', /reserved/],
    ['reserved name any case', { name: 'Bridge', subnet: '10.1.0.0/16' }, 'name', /reserved/],
    ['bad characters', { name: 'a b', subnet: '10.1.0.0/16' }, 'name', /letters/],
    ['duplicate', { name: 'dcos', subnet: '10.1.0.0/16' }, 'name', /already exists/],
    ['missing name', { subnet: '10.1.0.0/16' }, 'name', /required/],
    ['not a cidr', { name: 'x', subnet: '10.1.0.0' }, 'subnet', /CIDR/],
    ['host bits set', { name: 'x', subnet: '10.1.0.1/16' }, 'subnet', /host bits/],
    ['ipv6 in subnet', { name: 'x', subnet: 'fd00::/64' }, 'subnet', /IPv4/],
    ['overlaps dcos', { name: 'x', subnet: '9.1.0.0/16' }, 'subnet', /overlaps network "dcos"/],
    ['overlaps vtep subnet', { name: 'x', subnet: '44.0.0.0/8' }, 'subnet', /overlaps vtep_subnet/],
    ['prefix larger than the subnet', { name: 'x', subnet: '10.1.0.0/16', prefix: 8 }, 'prefix', /not smaller than the subnet/],
    ['prefix equal to the subnet', { name: 'x', subnet: '10.1.0.0/16', prefix: 16 }, 'prefix', /not smaller/],
    ['prefix too long', { name: 'x', subnet: '10.1.0.0/16', prefix: 31 }, 'prefix', /<= 30/],
    ['prefix not integer', { name: 'x', subnet: '10.1.0.0/16', prefix: 24.5 }, 'prefix', /integer/],
    ['unknown key', { name: 'x', subnet: '10.1.0.0/16', vni: 5 }, 'vni', /unknown key/],
    ['ipv6 prefix too long', { name: 'x', subnet: '10.1.0.0/16', subnet6: 'fd02::/64', prefix6: 127 }, 'prefix6', /<= 126/],
    ['ipv6 subnet bad', { name: 'x', subnet: '10.1.0.0/16', subnet6: '10.2.0.0/16' }, 'subnet6', /IPv6/],
    ['ipv6 subnet over the VTEPs', { name: 'x', subnet: '10.1.0.0/16', subnet6: 'fd01:a::/64' }, 'subnet6', /overlaps the VTEPs' IPv6 subnet \(fd01:a::\/64\)/],
    ['mtu too small', { name: 'x', subnet: '10.1.0.0/16', mtu: 100 }, 'mtu', />= 576/],
  ];
  for (const [what, input, field, re] of rows) {
    const err = t.throws(() => parseNetwork(input, existing), ConfigError, what) as unknown as ConfigError;
    t.equal(err?.field, field, `${what}: field`);
    t.match(err?.reason, re, `${what}: reason`);
  }
});

t.test('network definitions: good input with defaults', async (t) => {
  t.same(parseNetwork({ name: 'hr', subnet: '10.10.0.0/16' }, existing), { key: 'hr', name: 'hr', subnet: '10.10.0.0/16', prefix: 24, mtu: 1420 });
  t.same(parseNetwork({ name: 'v6net', subnet: '10.11.0.0/16', prefix: 26, subnet6: 'fd01:b::/64', prefix6: 80 }, existing), {
    key: 'v6net', name: 'v6net', subnet: '10.11.0.0/16', prefix: 26, mtu: 1420, subnet6: 'fd01:b::/64', prefix6: 80,
  });
  t.equal(parseNetwork({ name: 'abcdefghijklm', subnet: '10.12.0.0/16' }, existing).name, 'abcdefghijklm', '13 characters are fine');
});

t.test('overlay config defaults (DC/OS) and errors', async (t) => {
  t.same(parseOverlayConfig({}), { vtep_subnet: '44.128.0.0/20', vtep_mac_oui: '70:b3:d5:00:00:00', vni: 1024, vtep_name: 'vtep1024', vxlan_port: 64000 });
  t.equal(failure(() => parseOverlayConfig({ vni: 0 })).field, 'vni');
  t.equal(failure(() => parseOverlayConfig({ vtep_mac_oui: 'zz' })).field, 'vtep_mac_oui');
  t.equal(failure(() => parseOverlayConfig({ vtep_subnet: '44.128.0.0/31' })).field, 'vtep_subnet');
});

t.test('MAC = OUI + last 3 bytes of the VTEP IP', async (t) => {
  const rows: [string, string][] = [
    ['44.128.0.1', '70:b3:d5:80:00:01'],
    ['44.128.15.254/20', '70:b3:d5:80:0f:fe'],
    ['10.0.0.255', '70:b3:d5:00:00:ff'],
  ];
  for (const [ip, mac] of rows) t.equal(vtepMac('70:B3:D5:00:00:00', ip), mac, ip);
});

t.test('isolation rules with IPv6 prefixes', async (t) => {
  const v6nets = [
    { key: 'hr', name: 'hr', subnet: '10.10.0.0/16', prefix: 24, mtu: 1420, subnet6: 'fd01:10::/64', prefix6: 80 },
    { key: 'it', name: 'it', subnet: '10.20.0.0/16', prefix: 24, mtu: 1420, subnet6: 'fd01:20::/64', prefix6: 80 },
    ...existing,
  ];
  const r = parseRule({ from: 'it/fd01:20::/80', to: 'hr', ports: [22], protocol: 'tcp' }, v6nets);
  t.equal(r.key, 'it/fd01:20::/80>hr:tcp:22');
  const rules = buildRuleset6({ vtep: 'vtep1024', vtepSubnet: '44.128.0.0/20', vtepSubnet6: 'fd01:a::/64', networks: v6nets, rules: [r], policies: [] });
  t.match(rules, 'ip6 saddr fd01:20::/80 ip6 daddr fd01:10::/64 meta l4proto tcp th dport 22 counter accept comment "it/fd01:20::/80>hr:tcp:22"', 'an ip6 rule for the v6 prefix');
  const rules4 = buildRuleset({ vtep: 'vtep1024', vtepSubnet: '44.128.0.0/20', networks: v6nets, rules: [r], policies: [] });
  t.notMatch(rules4, 'it/fd01:20::/80>hr', 'no IPv4 rule for an IPv6 prefix');
  const bad: [unknown, string, RegExp][] = [
    [{ from: 'it/fd01:30::/80', to: 'hr' }, 'from', /fd01:30::\/80 is not inside network "it" \(fd01:20::\/64\)/],
    [{ from: 'it/fd01:20::1/80', to: 'hr' }, 'from', /not an IPv4 or IPv6 prefix/],
    [{ from: 'hr', to: 'dcos/fd01:20::/80' }, 'to', /is IPv6 but network "dcos" has no subnet6/],
    [{ from: 'it/fd01:20::/80', to: 'hr/10.10.1.0/24' }, 'to', /no address family in common/],
    [{ from: 'it/fd01:20::/80', to: 'dcos' }, 'to', /no address family in common/],
  ];
  for (const [input, field, re] of bad) {
    const f = failure(() => parseRule(input, v6nets));
    t.equal(f.field, field, JSON.stringify(input));
    t.match(f.reason, re, JSON.stringify(input));
  }
});

t.test('isolation rules and policies', async (t) => {
  const r = parseRule({ from: 'hr', to: 'dcos/9.1.0.0/16', ports: [80, '8000-8100'], protocol: 'tcp' }, withHr);
  t.same(r, { key: 'hr>dcos/9.1.0.0/16:tcp:80,8000-8100', from: 'hr', to: 'dcos/9.1.0.0/16', ports: ['80', '8000-8100'], protocol: 'tcp', action: 'allow' });
  const bad: [unknown, string, RegExp][] = [
    [{ from: 'nope', to: 'hr' }, 'from', /unknown network "nope"/],
    [{ from: 'hr', to: 'it' }, 'to', /unknown network "it"/],
    [{ from: 'hr', to: 'dcos/10.0.0.0/8' }, 'to', /not inside/],
    [{ from: 'hr', to: 'dcos', ports: [0] }, 'ports[0]', /not a port/],
    [{ from: 'hr', to: 'dcos', ports: ['90-80'] }, 'ports[0]', /not a port/],
    [{ from: 'hr', to: 'dcos', ports: [] }, 'ports', /non-empty/],
    [{ from: 'hr', to: 'dcos', protocol: 'icmp' }, 'protocol', /tcp/],
    [{ from: 'hr', to: 'dcos', action: 'deny' }, 'action', /only "allow"/],
  ];
  for (const [input, field, re] of bad) {
    const f = failure(() => parseRule(input, withHr));
    t.equal(f.field, field, JSON.stringify(input));
    t.match(f.reason, re);
  }
  t.same(parsePolicy({ network: 'hr', default: 'deny' }, withHr), { key: 'hr', network: 'hr', default: 'deny' });
  t.equal(failure(() => parsePolicy({ network: 'it', default: 'deny' }, withHr)).field, 'network');
  t.equal(failure(() => parsePolicy({ network: 'hr', default: 'drop' }, withHr)).field, 'default');
});

t.test('dual-stack default networks (SEXTANT_OVERLAY_SUBNET6)', async (t) => {
  t.same(dualStackDefaultNetworks('fd01:b::/64'), [{ key: 'dcos', name: 'dcos', subnet: '9.0.0.0/8', prefix: 24, mtu: 1420, subnet6: 'fd01:b::/64', prefix6: 80 }]);
  t.throws(() => dualStackDefaultNetworks('fe80::/64'), { name: 'ConfigError', field: 'subnet6', message: /link-local/ }, 'checked like any network');
  t.throws(() => dualStackDefaultNetworks('ff02::/64'), { name: 'ConfigError', field: 'subnet6', message: /multicast/ });
  t.throws(() => dualStackDefaultNetworks('10.0.0.0/8'), { name: 'ConfigError', field: 'subnet6' });
});
