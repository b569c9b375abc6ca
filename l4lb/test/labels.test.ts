import t from 'tap';
import { parseVipPortLabel, parseVipValue } from '../labels.js';

t.test('VIP port label values', async (t) => {
  const rows: [string, unknown][] = [
    ['/web:80', { kind: 'named', label: 'web', port: 80 }],
    ['/mygroup/myapp:8080', { kind: 'named', label: 'mygroupmyapp', port: 8080 }],
    ['web:80', { kind: 'named', label: 'web', port: 80 }],
    ['1.2.3.4:5000', { kind: 'ip', ip: '1.2.3.4', port: 5000 }],
    ['[fd01::1]:80', { kind: 'ip', ip: 'fd01::1', port: 80 }],
    ['fd01::1:80', { kind: 'ip', ip: 'fd01::1', port: 80 }],
    ['fd01:0:0::2:443', { kind: 'ip', ip: 'fd01::2', port: 443 }],
    ['[FD01:C:0:0::10]:80', { kind: 'ip', ip: 'fd01:c::10', port: 80 }],
  ];
  for (const [v, want] of rows) t.same(parseVipValue(v), want, v);
});

t.test('bad VIP labels name what is wrong', async (t) => {
  const rows: [string, RegExp][] = [
    ['/web', /expected/],
    ['/web:', /port "" is not a number/],
    ['/web:0', /out of range/],
    ['/web:70000', /out of range/],
    ['/web:http', /not a number/],
    [':80', /expected/],
    ['/:80', /empty/],
    ['1.2.3:80', /not a valid IP|dotted-quad/],
    ['300.1.1.1:80', /not a valid IP/],
    ['/we b:80', /not allowed/],
    ['[fd01:c::g]:80', /not a valid IP address/],
    ['[fd01:c::1]:', /port "" is not a number/],
    ['[fd01:c::1]:99999', /out of range/],
  ];
  for (const [v, re] of rows) t.throws(() => parseVipValue(v, 'app /x', 'VIP_0'), { name: 'VipLabelError', message: re }, v);
});

t.test('VIP_PORT task labels', async (t) => {
  t.same(parseVipPortLabel('tcp://web:80'), { kind: 'named', label: 'web', port: 80, protocol: 'tcp' });
  t.same(parseVipPortLabel('udp:///dns:53'), { kind: 'named', label: 'dns', port: 53, protocol: 'udp' });
  t.same(parseVipPortLabel('tcp://11.1.1.1:80'), { kind: 'ip', ip: '11.1.1.1', port: 80, protocol: 'tcp' });
  t.throws(() => parseVipPortLabel('sctp://web:80'), { name: 'VipLabelError', message: /sctp/ });
});
