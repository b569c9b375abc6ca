/**
 * Element writes over nfnetlink on a real kernel (throwaway namespaces): the same services written
 * through netlink and through nft's text leave identical tables (`nft list table`), v4 and v6, from
 * empty and after changes, deletes and weight changes; the kernel's refusal names the element and
 * changes nothing, as does a rule's (named as a rule, with the part refused); a failed netlink change is repaired through the text path; netlink reads the
 * elements back as nft's text listing does; a namespace netlink cannot follow falls back to text.
 */
import t from 'tap';
import type { Service } from '../../driver.js';
import { normalize } from '../../services.js';
import { NftablesDriver, type NftWrite } from '../driver.js';
import { NetlinkBatchError, NftNetlink, nativeNfnetlink, namespacePath } from '../netlink.js';
import { parseElementsText } from '../parse.js';
import { ElementDelta, renderSkeleton } from '../ruleset.js';
import { createNetns, requireRoot, requireTools, type Netns } from '../../../test/lib/index.js';
import { createLogger } from '../../../common/log.js';

const log = createLogger('l4lb-test');

function requireNative(): void {
  if (!nativeNfnetlink()) throw new Error('the native module nfnetlink is not built (native/build/Release/nfnetlink.node): run `npm run build` (needs make, a C compiler and python3)');
}

const svc = (vip: string, port: number, protocol: 'tcp' | 'udp', backends: [string, number, number][]): Service => ({
  key: '',
  vip,
  port,
  protocol,
  backends: backends.map(([ip, p, weight]) => ({ ip, port: p, weight })),
});

/** v4 and v6 VIPs, a drained backend, weights that must be scaled (maxSlots 8), a shared backend (hairpin). */
const START = normalize([
  svc('11.0.0.1', 80, 'tcp', [['10.0.0.1', 8080, 1], ['10.0.0.2', 8080, 2]]),
  svc('11.0.0.2', 53, 'udp', [['10.0.0.2', 53, 1], ['10.0.0.3', 53, 0]]),
  svc('11.0.0.3', 443, 'tcp', [['10.0.0.4', 1, 100], ['10.0.0.5', 1, 1]]),
  svc('fd01:c::1', 53, 'udp', [['fd01:b::1', 53, 2], ['fd01:b::2', 5353, 0]]),
  svc('fd01:c::2', 80, 'tcp', [['fd01:b::1', 80, 1]]),
  svc('11.0.0.4', 80, 'tcp', [['10.0.0.9', 80, 0]]),
]);

/** Weight change, backend removed, service removed, v6 service added, all-drained. */
const STEPS: [string, Service[]][] = [
  ['weight change', START.map((s) => (s.vip === '11.0.0.1' ? { ...s, backends: s.backends.map((b) => ({ ...b, weight: 3 })) } : s))],
  ['backend removed, service removed', START.filter((s) => s.vip !== '11.0.0.2').map((s) => (s.vip === 'fd01:c::2' ? { ...s, backends: [] } : s))],
  ['v6 service added', normalize([...START, svc('fd01:c::3', 8443, 'tcp', [['fd01:b::3', 443, 1], ['fd01:b::4', 443, 1]])])],
  ['everything removed', []],
  ['programmed again', START],
];

/** A table's listing with its name taken out, so two tables compare. */
async function listing(ns: Netns, table: string): Promise<string> {
  return (await ns.exec('nft', ['list', 'table', 'inet', table])).replace(`table inet ${table} `, 'table inet T ');
}

t.test('netlink and text writes leave identical tables (v4, v6, drain, scaled), from empty and after each change', async (t) => {
  requireRoot();
  requireTools('nft', 'ip');
  requireNative();
  const ns = await createNetns(t, 'nftnl');
  const writes: NftWrite[] = [];
  const viaNl = new NftablesDriver({ netns: ns.name, table: 'sx_nl', maxSlots: 8, log, onWrite: (w) => writes.push(w) });
  const viaText = new NftablesDriver({ netns: ns.name, table: 'sx_text', maxSlots: 8, netlink: false, log });
  t.teardown(() => Promise.all([viaNl.stop(), viaText.stop()]));
  await viaNl.start();
  await viaText.start();
  const [a0, b0] = await Promise.all([viaNl.apply(START), viaText.apply(START)]);
  t.same(a0, b0, 'from empty: same result counts');
  t.equal(writes.at(-1)?.via, 'netlink', 'the from-empty write went over netlink');
  t.equal(viaNl.sessionProcesses, 0, 'no nft session was started for elements');
  t.equal(await listing(ns, 'sx_nl'), await listing(ns, 'sx_text'), 'from empty: identical `nft list table`');
  for (const [name, want] of STEPS) {
    writes.length = 0;
    const [a, b] = await Promise.all([viaNl.apply(want), viaText.apply(want)]);
    t.same(a, b, `${name}: same result counts`);
    t.equal(await listing(ns, 'sx_nl'), await listing(ns, 'sx_text'), `${name}: identical \`nft list table\``);
    t.ok(writes.length > 0 && writes.every((w) => w.via === 'netlink'), `${name}: written over netlink`);
    t.same(await viaNl.dump(), want, `${name}: dump (read over netlink) equals the desired state`);
  }
  t.match(await viaNl.reconcile(START), { added: 0, removed: 0, changed: 0, rules: 0 }, 'a reconcile (read over netlink) finds nothing to repair');
});

t.test('netlink reads the elements back as nft\'s text listing has them', async (t) => {
  requireRoot();
  requireTools('nft', 'ip');
  requireNative();
  const ns = await createNetns(t, 'nftnl');
  const d = new NftablesDriver({ netns: ns.name, table: 'sx_rd', maxSlots: 8, netlink: false, log });
  t.teardown(() => d.stop());
  await d.start();
  await d.apply(START);
  const nl = NftNetlink.open('sx_rd', namespacePath({ netns: ns.name }) ?? undefined)!;
  t.teardown(() => nl.close());
  const fromText = parseElementsText(await ns.exec('nft', ['list', 'table', 'inet', 'sx_rd']));
  const fromNl = nl.readElements();
  const sorted = (e: typeof fromText) => [...e].map(([k, m]) => [k, [...m].sort()]).sort();
  t.same(sorted(fromNl), sorted(fromText), 'every set and map, key and value');
  t.ok([...fromNl.values()].reduce((n, m) => n + m.size, 0) > 20, 'the table has elements to compare');
});

t.test('a kernel error names the element, and the batch changes nothing', async (t) => {
  requireRoot();
  requireTools('nft', 'ip');
  requireNative();
  const ns = await createNetns(t, 'nftnl');
  await ns.exec('nft', ['-f', '-'], { input: renderSkeleton('sx_err', 2) });
  const nl = NftNetlink.open('sx_err', namespacePath({ netns: ns.name }) ?? undefined)!;
  t.teardown(() => nl.close());
  const ok = new ElementDelta();
  ok.insert('hairpin4', '10.0.0.1 . 10.0.0.1', '');
  nl.write(ok);
  const bad = new ElementDelta();
  bad.insert('svc4', '11.0.0.7 . tcp . 80', 'goto pick1');
  for (let i = 0; i < 300; i++) bad.insert('hairpin4', `10.1.${i >> 8}.${i & 255} . 10.1.${i >> 8}.${i & 255}`, '');
  bad.remove('hairpin4', '10.0.0.9 . 10.0.0.9');
  const err = (() => {
    try {
      nl.write(bad);
    } catch (e) {
      return e as Error;
    }
  })();
  t.type(err, NetlinkBatchError, 'the write threw a NetlinkBatchError');
  t.equal((err as NetlinkBatchError).errno, 'ENOENT');
  t.match(err?.message, /ENOENT on delete element hairpin4 \{ 10\.0\.0\.9 \. 10\.0\.0\.9 \}/, 'the message names the missing element');
  const after = await ns.exec('nft', ['list', 'table', 'inet', 'sx_err']);
  t.notMatch(after, /11\.0\.0\.7|10\.1\.0\.5/, 'nothing of the failed batch was committed');
  t.match(after, /10\.0\.0\.1 \. 10\.0\.0\.1/, 'what was there before stays');

  const noChain = new ElementDelta();
  noChain.insert('svc4', '11.0.0.8 . tcp . 80', 'goto pick9');
  t.throws(() => nl.write(noChain), /ENOENT on add element svc4 \{ 11\.0\.0\.8 \. tcp \. 80 : goto pick9 \}/, 'a verdict to a missing chain is named');
  const garbage = new ElementDelta();
  garbage.insert('svc4', '11.0.0.300 . tcp . 80', 'goto pick1');
  t.throws(() => nl.write(garbage), /cannot encode element svc4 \{ 11\.0\.0\.300 \. tcp \. 80 : goto pick1 \}: bad IPv4 address/, 'a malformed element is refused before anything is sent');
  const missingTable = NftNetlink.open('sx_none', namespacePath({ netns: ns.name }) ?? undefined)!;
  t.teardown(() => missingTable.close());
  t.throws(() => missingTable.write(ok), /ENOENT on add element hairpin4/, 'a missing table is an error, not a silent no-op');
  t.throws(() => missingTable.write(ok), /in table inet sx_none, refused at the table$/, 'the error names the table the kernel refused');
});

t.test('a rule the kernel refuses is named as a rule: its comment, chain and table, and the part refused', async (t) => {
  requireRoot();
  requireTools('nft', 'ip');
  requireNative();
  const ns = await createNetns(t, 'nftnl');
  // A services chain but no svc4 map: the rule's lookup names a set that is not there.
  await ns.exec('nft', ['-f', '-'], { input: 'table inet sx_rule {\n  chain services {\n  }\n}\ntable inet sx_nochain {\n}\n' });
  const nl = NftNetlink.open('sx_rule', namespacePath({ netns: ns.name }) ?? undefined, 'count')!;
  t.teardown(() => nl.close());
  const err = (() => {
    try {
      nl.writeServicesRules();
    } catch (e) {
      return e as NetlinkBatchError;
    }
  })();
  t.type(err, NetlinkBatchError, 'the write threw a NetlinkBatchError');
  t.equal(err?.kind, 'rule');
  t.equal(err?.errno, 'ENOENT');
  t.equal(err?.message, 'nftables: netlink rule write failed: ENOENT on add rule vmap4 in chain services of table inet sx_rule, refused at expression 7 of 11 (lookup svc4)', 'the rule, where it goes, and the lookup of the missing map');
  t.notMatch(await ns.exec('nft', ['list', 'table', 'inet', 'sx_rule']), /vmap/, 'no rule was committed');
  const noChain = NftNetlink.open('sx_nochain', namespacePath({ netns: ns.name }) ?? undefined, 'count')!;
  t.teardown(() => noChain.close());
  t.throws(() => noChain.writeServicesRules(), /^nftables: netlink rule write failed: ENOENT on add rule vmap4 in chain services of table inet sx_nochain, refused at the chain$/, 'a missing chain is named');
});

t.test('a netlink change the kernel refuses is repaired through the text path; the next change goes over netlink', async (t) => {
  requireRoot();
  requireTools('nft', 'ip');
  requireNative();
  const ns = await createNetns(t, 'nftnl');
  const writes: NftWrite[] = [];
  const d = new NftablesDriver({ netns: ns.name, log, onWrite: (w) => writes.push(w) });
  t.teardown(() => d.stop());
  await d.start();
  let svcs = START;
  await d.apply(svcs);
  // Behind the driver's back: the element the next change deletes is gone.
  await ns.exec('nft', ['delete', 'element', 'inet', d.table, 'svc4', '{ 11.0.0.1 . tcp . 80 }']);
  svcs = STEPS[0]![1];
  writes.length = 0;
  await d.apply(svcs);
  t.equal(writes[0]?.via, 'netlink', 'the change went over netlink (and failed: the element was gone)');
  t.ok(writes.slice(1).every((w) => w.via !== 'netlink'), 'the repair did not go over netlink');
  t.same(await d.dump(), svcs, 'the text reconcile left the kernel equal to the desired state');
  writes.length = 0;
  await d.apply(START);
  t.equal(writes[0]?.via, 'netlink', 'the next change goes over netlink again');
  t.same(await d.dump(), START);
});

t.test('a namespace netlink cannot follow (a command prefix other than nsenter) falls back to nft\'s text', async (t) => {
  requireRoot();
  requireTools('nft', 'ip');
  const ns = await createNetns(t, 'nftnl');
  const writes: NftWrite[] = [];
  const d = new NftablesDriver({ prefix: ['ip', 'netns', 'exec', ns.name], log, onWrite: (w) => writes.push(w) });
  t.teardown(() => d.stop());
  await d.start();
  await d.apply(START);
  await d.apply(STEPS[0]![1]);
  t.equal(writes.at(-1)?.via, 'session', 'changes went through the nft session');
  t.match(d.netlinkUnavailable, /cannot follow the command prefix/, 'the driver says why netlink is not used');
  t.same(await d.dump(), STEPS[0]![1]);
  t.equal(namespacePath({ prefix: ['nsenter', '--net=/run/netns/x'] }), '/run/netns/x');
  t.equal(namespacePath({ prefix: ['nsenter', '-t', '42', '-n'] }), '/proc/42/ns/net');
  t.equal(namespacePath({ netns: 'x' }), '/run/netns/x');
  t.equal(namespacePath({}), undefined);
});

t.test('reconcile reads the skeleton from the whole ruleset and keeps to its own table; a byte-diff reconcile repairs drift', async (t) => {
  requireRoot();
  requireTools('nft', 'ip');
  requireNative();
  const ns = await createNetns(t, 'nftnl');
  const d = new NftablesDriver({ netns: ns.name, log });
  t.teardown(() => d.stop());
  // Other tables with the same chain and set names, in the same and in another family.
  await ns.exec('nft', ['-f', '-'], { input: renderSkeleton(`${d.table}_other`, 2) });
  await ns.exec('nft', ['-f', '-'], { input: `table ip ${d.table} {\n  chain services {\n  }\n  set svc4 { type ipv4_addr; elements = { 10.9.9.9 } }\n}\n` });
  await d.start();
  t.same((await d.apply(START)).added, START.length);
  t.same(await d.reconcile(START), { added: 0, removed: 0, changed: 0, rules: 0 }, 'intact: nothing rebuilt, nothing written');
  t.same(await d.drift(START), [], 'no drift');

  // Behind the driver's back: one element deleted, one changed, one added.
  await ns.exec('nft', ['delete', 'element', 'inet', d.table, 'slots4', '{ 11.0.0.1 . tcp . 80 . 0 }']);
  await ns.exec('nft', ['delete', 'element', 'inet', d.table, 'svc6', '{ fd01:c::2 . tcp . 80 }']);
  // A wrong slot count (the slot-count encoding's svc6 holds counts, the verdict one's `goto pick<n>`).
  await ns.exec('nft', ['add', 'element', 'inet', d.table, 'svc6', `{ fd01:c::2 . tcp . 80 : ${d.svcData === 'count' ? '2' : 'goto pick2'} }`]);
  await ns.exec('nft', ['add', 'element', 'inet', d.table, 'hairpin4', '{ 10.7.7.7 . 10.7.7.7 }']);
  t.match(await d.drift(START), [/4 map or set element\(s\) differ/], 'drift counts the four differing elements');
  const res = await d.reconcile(START);
  t.same(res, { added: 0, removed: 0, changed: 2, rules: 4 }, 'two services changed: one slot added back, one verdict deleted and added again, the stray hairpin deleted');
  t.same(await d.dump(), START, 'the kernel holds the desired state again');
  t.same(await d.drift(START), []);
  t.match(await ns.exec('nft', ['list', 'table', 'ip', d.table]), /10\.9\.9\.9/, 'the ip-family table of the same name is untouched');
  t.match(await ns.exec('nft', ['list', 'table', 'inet', `${d.table}_other`]), /chain services/, 'the other inet table is untouched');
});
