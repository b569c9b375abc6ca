import t from 'tap';
import { inNetns, netnsName } from '../netns.js';

t.test('inNetns: one form per kind of namespace', async (t) => {
  const rows: [string | undefined, string[]][] = [
    [undefined, ['nft', '-f', '-']],
    ['sx1ns', ['ip', 'netns', 'exec', 'sx1ns', 'nft', '-f', '-']],
    ['/run/netns/sx1ns', ['ip', 'netns', 'exec', 'sx1ns', 'nft', '-f', '-']],
    ['/var/run/netns/sx1ns', ['ip', 'netns', 'exec', 'sx1ns', 'nft', '-f', '-']],
    ['/proc/42/ns/net', ['nsenter', '--net=/proc/42/ns/net', '--', 'nft', '-f', '-']],
  ];
  for (const [ns, want] of rows) t.same(inNetns(ns, ['nft', '-f', '-']), want, String(ns));
});

t.test('bad namespaces are errors naming them', async (t) => {
  for (const bad of ['', '.', '..', 'a/b', 'x\0y']) t.throws(() => netnsName(bad), { name: 'NetnsNameError' }, JSON.stringify(bad));
  t.throws(() => inNetns('ns1', []), /no command/);
});
