/** withCounters: a rewritten table's counted rules start from the counts the kernel had (overlay/nft.ts). */
import t from 'tap';
import { buildRuleset, withCounters } from '../nft.js';

const input = {
  vtep: 'vtep1024',
  vtepSubnet: '44.128.0.0/20',
  networks: [
    { name: 'hr', subnet: '10.10.0.0/16', prefix: 24, mtu: 1420 },
    { name: 'it', subnet: '10.20.0.0/16', prefix: 24, mtu: 1420 },
  ],
  rules: [{ key: 'hr>it:tcp:80', from: 'hr', to: 'it', ports: [80], protocol: 'tcp' as const }],
  policies: [{ network: 'hr', default: 'deny' as const }],
} as unknown as Parameters<typeof buildRuleset>[0];

t.test('counted rules carry their counts; others are untouched', async (t) => {
  const text = buildRuleset(input);
  const out = withCounters(text, [
    { key: 'hr>it:tcp:80', packets: 7, bytes: 420 },
    { key: 'default:hr', packets: 3, bytes: 180 },
    { key: 'gone', packets: 9, bytes: 9 },
  ]);
  t.match(out, /th dport 80 counter packets 7 bytes 420 accept comment "hr>it:tcp:80"\n/, 'the allow rule');
  t.match(out, /counter packets 3 bytes 180 reject with icmp type admin-prohibited comment "default:hr"\n/, 'the default-deny rule');
  t.equal(out.replace(/ packets \d+ bytes \d+/g, ''), text, 'nothing else changed');
  t.equal(withCounters(text, []), text, 'no counts: the text as is');
  t.equal(withCounters('', [{ key: 'x', packets: 1, bytes: 1 }]), '', 'no table: nothing');
});
