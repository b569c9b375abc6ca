/** The batch lines diff.ts plans, parsed for the netlink driver; driver selection. */
import t from 'tap';
import { parseLine } from '../ops.js';
import { kernelKind } from '../driver.js';

t.test('every line diff.ts writes parses to one operation', async (t) => {
  const cases: [string, object][] = [
    ['link add vtep1024 type vxlan id 1024 dstport 64000 nolearning noudpcsum', { obj: 'link', verb: 'add', name: 'vtep1024', kind: 'vxlan', vni: 1024, port: 64000 }],
    ['link set vtep1024 address 70:b3:d5:00:00:01 mtu 1450 up', { obj: 'link', verb: 'set', name: 'vtep1024', mac: '70:b3:d5:00:00:01', mtu: 1450, up: true }],
    ['link add m-dcos type bridge', { obj: 'link', verb: 'add', name: 'm-dcos', kind: 'bridge' }],
    ['link del m-old', { obj: 'link', verb: 'del', name: 'm-old' }],
    ['addr replace 9.0.0.1/25 dev m-dcos', { obj: 'addr', verb: 'replace', cidr: '9.0.0.1/25', dev: 'm-dcos' }],
    ['addr del fd01::1/64 dev m-dcos', { obj: 'addr', verb: 'del', cidr: 'fd01::1/64', dev: 'm-dcos' }],
    ['addr replace fd01:b::1/81 dev m-dcos nodad', { obj: 'addr', verb: 'replace', cidr: 'fd01:b::1/81', dev: 'm-dcos', nodad: true }],
    ['route replace fd01:b:0:0:1::/80 via fd01:a::2c80:2 dev vtep1024 onlink', { obj: 'route', verb: 'replace', dst: 'fd01:b:0:0:1::/80', via: 'fd01:a::2c80:2', table: 254 }],
    ['neigh replace 44.128.0.2 lladdr 70:b3:d5:00:00:02 dev vtep1024 nud permanent', { obj: 'neigh', verb: 'replace', ip: '44.128.0.2', mac: '70:b3:d5:00:00:02', dev: 'vtep1024' }],
    ['neigh del 44.128.0.2 dev vtep1024', { obj: 'neigh', verb: 'del', ip: '44.128.0.2', dev: 'vtep1024' }],
    ['route replace 9.0.1.0/24 via 44.128.0.2 dev vtep1024 onlink', { obj: 'route', verb: 'replace', dst: '9.0.1.0/24', via: '44.128.0.2', dev: 'vtep1024', table: 254 }],
    ['route replace 10.0.0.2/32 via 44.128.0.2 dev vtep1024 onlink table 42', { obj: 'route', verb: 'replace', dst: '10.0.0.2/32', table: 42 }],
    ['route del 10.0.0.2/32 table 42', { obj: 'route', verb: 'del', dst: '10.0.0.2/32', table: 42, dev: undefined }],
    ['rule add from 9.0.0.0/8 lookup 42 pref 32000', { obj: 'rule', verb: 'add', src: '9.0.0.0/8', table: 42, pref: 32000 }],
    ['fdb replace 70:b3:d5:00:00:02 dev vtep1024 dst 10.0.0.2 self permanent', { obj: 'fdb', verb: 'replace', mac: '70:b3:d5:00:00:02', dev: 'vtep1024', dst: '10.0.0.2' }],
  ];
  for (const [line, want] of cases) t.match(parseLine(line), want, line);
});

t.test('lines outside the grammar are errors naming the line', async (t) => {
  for (const line of ['', 'link', 'tunnel add x', 'link add x type gre', 'neigh replace 1.2.3.4 lladdr', 'route replace 9.0.0.0/8 table x', 'rule add from 9.0.0.0/8 lookup 42', 'addr replace 9.0.0.1/24'])
    t.throws(() => parseLine(line), { name: 'KernelError', message: /./ }, JSON.stringify(line));
});

t.test('driver selection', async (t) => {
  const cases: [string | undefined, string | undefined, string | RegExp][] = [
    [undefined, undefined, 'netlink'],
    ['ns1', undefined, 'iproute2'],
    [undefined, 'iproute2', 'iproute2'],
    [undefined, ' netlink ', 'netlink'],
    ['ns1', 'iproute2', 'iproute2'],
    ['ns1', 'netlink', /own namespace only/],
    [undefined, 'rtnl', /SEXTANT_OVERLAY_KERNEL: must be "iproute2" or "netlink"/],
  ];
  for (const [netns, env, want] of cases) {
    if (typeof want === 'string') t.equal(kernelKind(netns, env), want, `${netns} ${env}`);
    else t.throws(() => kernelKind(netns, env), { name: 'ConfigError', message: want }, `${netns} ${env}`);
  }
});
