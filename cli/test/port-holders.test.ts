/**
 * port-holders.ts: the /proc/net parser (tables of rows), then the real kernel: sockets this test
 * binds on a private loopback block are found, with this process as their holder.
 */
import t from 'tap';
import net from 'node:net';
import dgram from 'node:dgram';
import { blocks, decodeAddress, describeHolders, parseSocketTable, portHolders, type BoundSocket } from '../port-holders.js';
import { freePort, loopbackBlock } from '../../test/lib/index.js';

t.test('decodeAddress', async (t) => {
  const rows: [string, boolean, string][] = [
    ['0100007F', true, '127.0.0.1'],
    ['7F000001', false, '127.0.0.1'],
    ['00000000', true, '0.0.0.0'],
    ['00000000000000000000000001000000', true, '::1'],
    ['00000000000000000000000000000000', true, '::'],
    ['0000000000000000FFFF00000100007F', true, '::ffff:127.0.0.1'],
    ['B80D0120000000000000000001000000', true, '2001:db8::1'],
    ['20010DB8000000010000000000000000', false, '2001:db8:0:1::'],
  ];
  for (const [hex, le, want] of rows) t.equal(decodeAddress(hex, le), want, `${hex} (${le ? 'LE' : 'BE'})`);
  t.throws(() => decodeAddress('123'), /bad \/proc\/net address/);
});

t.test('parseSocketTable', async (t) => {
  const text = [
    '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode',
    '   0: 00000000:07E8 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1229 1 00000000391300ee 100 0 0 10 0',
    '   1: 015F687F:9777 0100007F:BBC0 06 00000000:00000000 03:00000D2E 00000000     0        0 0 3 00000000fccfe4cb',
    '',
  ].join('\n');
  t.same(parseSocketTable(text, 'tcp'), [
    { proto: 'tcp', host: '0.0.0.0', port: 2024, state: 0x0a, inode: 1229 },
    { proto: 'tcp', host: '127.104.95.1', port: 0x9777, state: 0x06, inode: 0 },
  ]);
});

t.test('blocks', async (t) => {
  const s = (host: string, state = 0x0a, proto: 'tcp' | 'udp' = 'tcp'): BoundSocket => ({ proto, host, port: 5050, state, inode: 1 });
  const rows: [BoundSocket, 'tcp' | 'udp', string, number, boolean, string][] = [
    [s('127.0.0.1'), 'tcp', '127.0.0.1', 5050, true, 'same address'],
    [s('127.0.0.1'), 'tcp', '127.0.0.2', 5050, false, 'another address'],
    [s('127.0.0.1'), 'tcp', '127.0.0.1', 5051, false, 'another port'],
    [s('127.0.0.1'), 'udp', '127.0.0.1', 5050, false, 'another protocol'],
    [s('0.0.0.0'), 'tcp', '127.0.0.9', 5050, true, 'IPv4 wildcard'],
    [s('::'), 'tcp', '127.0.0.9', 5050, true, 'IPv6 wildcard may be dual-stack'],
    [s('0.0.0.0'), 'tcp', '::1', 5050, false, 'IPv4 wildcard does not hold IPv6'],
    [s('::ffff:127.0.0.1'), 'tcp', '127.0.0.1', 5050, true, 'IPv4-mapped'],
    [s('127.0.0.1', 0x07), 'tcp', '127.0.0.1', 5050, true, 'bound, not listening'],
    [s('127.0.0.1', 0x01), 'tcp', '127.0.0.1', 5050, false, 'an established connection does not hold it'],
    [s('127.0.0.1', 0x06), 'tcp', '127.0.0.1', 5050, false, 'TIME_WAIT does not hold it'],
    [s('127.0.0.1', 0x01, 'udp'), 'udp', '127.0.0.1', 5050, true, 'UDP in any state'],
  ];
  for (const [sock, proto, host, port, want, why] of rows) t.equal(blocks(sock, proto, host, port), want, why);
});

t.test('portHolders finds this process on real sockets', async (t) => {
  const host = loopbackBlock()(1);
  const port = await freePort(host);
  t.same(portHolders('tcp', host, port), [], 'a free port has no holder');
  t.match(describeHolders([]), /^unknown/, 'and is described as unknown');

  const server = net.createServer();
  await new Promise<void>((r) => server.listen(port, host, r));
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  const tcp = portHolders('tcp', host, port);
  t.same(tcp.map((h) => h.pid), [process.pid], 'the TCP listener is held by this process');
  t.match(tcp[0]!.command, process.execPath.split('/').pop()!, 'with its command line');
  t.match(describeHolders(tcp), `pid ${process.pid} (`);
  t.same(portHolders('udp', host, port), [], 'UDP is another table');

  const udp = dgram.createSocket('udp4');
  await new Promise<void>((r) => udp.bind(port, host, r));
  t.teardown(() => new Promise<void>((r) => udp.close(() => r())));
  t.same(portHolders('udp', host, port).map((h) => h.pid), [process.pid], 'the UDP socket is held by this process');

  const v6 = net.createServer();
  const v6port = await new Promise<number>((resolve, reject) => {
    v6.once('error', reject);
    v6.listen(0, '::1', () => resolve((v6.address() as net.AddressInfo).port));
  });
  t.teardown(() => new Promise<void>((r) => v6.close(() => r())));
  t.same(portHolders('tcp', '::1', v6port).map((h) => h.pid), [process.pid], 'an IPv6 listener on ::1 is found too');
});
