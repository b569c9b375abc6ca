/** Parsers of what the kernel drivers' counters look like: `nft -j list table`, ctnetlink messages and `ipvsadm -Ln --stats --exact`. */
import t from 'tap';
import type { Service } from '../../driver.js';
import { ipvsMetrics, parseIpvsStats } from '../ipvs-stats.js';
import { parseCounters, renderMetricsTable } from '../nft-counters.js';

// As nft 1.0.6 lists the metrics table (two elements added by hand with counters).
const NFT_JSON = JSON.stringify({
  nftables: [
    { metainfo: { version: '1.0.6', json_schema_version: 1 } },
    { table: { family: 'inet', name: 't_metrics', handle: 2 } },
    { set: { family: 'inet', name: 'conns4', table: 't_metrics', type: ['ipv4_addr', 'inet_proto', 'ipv4_addr', 'inet_service'], handle: 6, size: 65535, elem: [{ elem: { val: { concat: ['11.0.0.1', 'tcp', '10.0.0.1', 7000] }, counter: { packets: 3, bytes: 180 } } }], stmt: [{ counter: null }] } },
    { set: { family: 'inet', name: 'bytes6', table: 't_metrics', type: ['ipv6_addr', 'inet_proto', 'ipv6_addr', 'inet_service'], handle: 11, size: 65535, elem: [{ elem: { val: { concat: ['fd01:c::1', 'udp', 'fd78::1', 53] }, counter: { packets: 2, bytes: 200 } } }], stmt: [{ counter: null }] } },
    { set: { family: 'inet', name: 'other', table: 't_metrics', elem: [{ elem: { val: 'x' } }] } },
    { set: { family: 'inet', name: 'fails4', table: 't_metrics', elem: [{ elem: { val: { concat: ['11.0.0.1', 'icmp', '10.0.0.1', 1] }, counter: { packets: 1, bytes: 1 } } }] } },
  ],
});

t.test('nft: elements with their counters', async (t) => {
  t.same(parseCounters(NFT_JSON), [
    { vipIp: '11.0.0.1', protocol: 'tcp', backend: '10.0.0.1:7000', key: '11.0.0.1 . tcp . 10.0.0.1 . 7000', family: 4, set: 'conns', packets: 3, bytes: 180 },
  ], 'sets of other names (the per-packet bytes sets of earlier versions) and unknown protocols skipped');
  t.same(parseCounters('{"nftables":[]}'), []);
  t.throws(() => parseCounters('not json'));
});

t.test('nft: the table is recreated whole, owns its name, counts after NAT', async (t) => {
  const s = renderMetricsTable('sextant_l4lb_metrics');
  t.match(s, /^table inet sextant_l4lb_metrics\ndelete table inet sextant_l4lb_metrics\ntable inet sextant_l4lb_metrics \{/);
  t.match(s, /type filter hook prerouting priority 10;/);
  t.match(s, /type filter hook output priority 10;/);
  for (const set of ['conns4', 'fails4', 'conns6', 'fails6']) t.match(s, new RegExp(`set ${set} \\{ typeof .*; flags dynamic; size 65535; counter; \\}`));
  t.notMatch(s, /bytes/, 'no per-packet byte counting (conntrack accounting counts bytes)');
  t.equal(s.match(/meta l4proto tcp ct status & \(dnat \| assured\) == dnat jump fails/g)?.length, 2, 'only TCP packets of DNAT\'d connections not yet assured reach the failure rules');
  t.match(s, /type nat hook postrouting priority srcnat - 20;[^}]*ct status dnat jump conns/, 'connections are counted in NAT chains (first packet only)');
  t.match(s, /type nat hook input priority 80;[^}]*ct status dnat jump conns/);
});

const IPVSADM = `IP Virtual Server version 1.2.1 (size=4096)
Prot LocalAddress:Port               Conns   InPkts  OutPkts  InBytes OutBytes
  -> RemoteAddress:Port
TCP  11.0.0.1:80                         3       18       12     1176     1044
  -> 10.0.0.1:8080                       2       12        8      784      696
  -> 10.0.0.2:8080                       1        6        4      392      348
FWM  1                                   9        9        9        9        9
  -> 10.0.0.3:1                          9        9        9        9        9
UDP  [fd01:c::1]:53                      5        5        5      300      500
  -> [FD78::1]:53                        5        5        5      300      500
`;

t.test('ipvsadm --stats: per destination conns and bytes both ways', async (t) => {
  t.same(parseIpvsStats(IPVSADM), [
    { vip: '11.0.0.1:80/tcp', backend: '10.0.0.1:8080', connections: 2, bytes: 1480 },
    { vip: '11.0.0.1:80/tcp', backend: '10.0.0.2:8080', connections: 1, bytes: 740 },
    { vip: '[fd01:c::1]:53/udp', backend: '[fd78::1]:53', connections: 5, bytes: 800 },
  ], 'FWM services skipped, IPv6 lower-cased');
  t.same(parseIpvsStats(''), []);
  const live: Service[] = [
    { key: 'tcp/11.0.0.1:80', vip: '11.0.0.1', port: 80, protocol: 'tcp', backends: [{ ip: '10.0.0.1', port: 8080, weight: 1 }, { ip: '10.0.0.4', port: 8080, weight: 0 }] },
  ];
  t.same(ipvsMetrics(parseIpvsStats(IPVSADM), live, 7), {
    measures: { connections: true, failures: false, bytes: true, latency: false },
    since: 7,
    vips: [{ vip: '11.0.0.1:80/tcp', backends: [{ backend: '10.0.0.1:8080', connections: 2, bytes: 1480 }, { backend: '10.0.0.4:8080', connections: 0, bytes: 0 }] }],
  }, 'programmed backends only, zeros where the kernel has none');
});
