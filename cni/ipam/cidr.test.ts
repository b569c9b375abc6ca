import t from 'tap';
import { parseCidr, parseIp4, formatIp4, hostRange, contains, formatCidr } from './cidr.js';

t.test('parse and format', async (t) => {
  const rows: [string, string | undefined][] = [
    ['9.0.1.0/24', '9.0.1.0/24'],
    ['9.0.1.7/25', '9.0.1.0/25'],
    ['0.0.0.0/0', '0.0.0.0/0'],
    ['255.255.255.255/32', '255.255.255.255/32'],
    ['9.0.1.0', undefined],
    ['9.0.1.0/33', undefined],
    ['9.0.256.0/24', undefined],
    ['x/24', undefined],
  ];
  for (const [input, want] of rows) {
    const c = parseCidr(input);
    t.equal(c ? formatCidr(c) : undefined, want, input);
  }
  t.equal(formatIp4(parseIp4('200.1.2.3')!), '200.1.2.3');
});

t.test('host range and containment', async (t) => {
  const rows: [string, string, string][] = [
    ['9.0.1.0/24', '9.0.1.1', '9.0.1.254'],
    ['9.0.1.128/25', '9.0.1.129', '9.0.1.254'],
    ['10.0.0.0/30', '10.0.0.1', '10.0.0.2'],
    ['10.0.0.4/31', '10.0.0.4', '10.0.0.5'],
  ];
  for (const [cidr, first, last] of rows) {
    const r = hostRange(parseCidr(cidr)!);
    t.same([formatIp4(r.first), formatIp4(r.last)], [first, last], cidr);
  }
  t.ok(contains(parseCidr('9.0.1.0/24')!, parseIp4('9.0.1.77')!));
  t.notOk(contains(parseCidr('9.0.1.0/24')!, parseIp4('9.0.2.1')!));
});
