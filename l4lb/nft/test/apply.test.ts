/**
 * The incremental apply path of the nftables driver against an in-memory `nft` that keeps the
 * elements each script adds and deletes: after every step the elements must equal a fresh render
 * of the desired services, and a one-service change must touch only that service.
 */
import t from 'tap';
import type { Service } from '../../driver.js';
import { normalize, normalizeOne } from '../../services.js';
import { NftablesDriver } from '../driver.js';
import { renderElements, type Elements } from '../ruleset.js';
import { createLogger } from '../../../common/log.js';

const log = createLogger('l4lb-test');

/** An `nft` that understands the element lines the driver writes (and `delete table`). */
function fakeNft() {
  const state = new Map<string, Map<string, string>>();
  const scripts: string[] = [];
  let failNext = false;
  const run = async (args: string[], input = ''): Promise<string> => {
    if (args.includes('list')) throw new Error('Error: No such file or directory');
    if (failNext) {
      failNext = false;
      throw new Error('nft: injected failure');
    }
    scripts.push(input);
    for (const line of input.split('\n')) {
      if (/^delete table /.test(line)) state.clear();
      const m = /^(add|delete) element inet \S+ (\S+) \{ (.*) \}$/.exec(line);
      if (!m) continue;
      const [, verb, set, items] = m as unknown as [string, string, string, string];
      if (!state.has(set)) state.set(set, new Map());
      for (const item of items.split(', ')) {
        const [k, v = ''] = item.split(' : ');
        if (verb === 'add') {
          if (state.get(set)!.has(k!)) throw new Error(`add of existing element ${set} ${k}`);
          state.get(set)!.set(k!, v);
        } else if (!state.get(set)!.delete(k!)) throw new Error(`delete of missing element ${set} ${k}`);
      }
    }
    return '';
  };
  return { run, state, scripts, fail: () => (failNext = true) };
}

const nonEmpty = (e: Elements) => new Map([...e].filter(([, m]) => m.size > 0).map(([k, m]) => [k, new Map([...m].sort())]));

const svc = (vip: string, port: number, backends: [string, number, number][]): Service => ({
  key: '',
  vip,
  port,
  protocol: 'tcp',
  backends: backends.map(([ip, p, weight]) => ({ ip, port: p, weight })),
});

const A = svc('11.0.0.1', 80, [['10.0.0.1', 8080, 1], ['10.0.0.2', 8080, 1]]);
const B = svc('11.0.0.2', 80, [['10.0.0.2', 8080, 1], ['10.0.0.3', 8080, 1]]);
const B0 = svc('11.0.0.2', 80, [['10.0.0.3', 8080, 1], ['10.0.0.2', 8080, 0]]);
const C = svc('FD01:C::0001', 53, [['fd01:b::1', 53, 2]]);
const Cc = svc('fd01:c::1', 53, [['fd01:b::1', 53, 2]]);
const D = svc('11.0.0.4', 80, [['10.0.0.9', 1, 1]]);

const steps: { name: string; desired: Service[]; touches?: string[]; untouched?: string[]; result: [number, number, number] }[] = [
  { name: 'three services from empty', desired: [A, B, C], result: [3, 0, 0] },
  { name: 'one backend drained: only that service is written', desired: [A, B0, C], touches: ['11.0.0.2'], untouched: ['11.0.0.1', 'fd01'], result: [0, 0, 1] },
  { name: 'same services in another spelling and order: nothing written', desired: [Cc, B0, A], result: [0, 0, 0] },
  { name: 'duplicate key: the first one wins', desired: [A, B0, C, svc('11.0.0.1', 80, [['10.0.0.7', 1, 1]])], result: [0, 0, 0] },
  { name: 'one removed, one added: shared hairpin entry 10.0.0.2 stays', desired: [B0, C, D], touches: ['11.0.0.1', '11.0.0.4'], untouched: ['11.0.0.2', 'fd01'], result: [1, 1, 0] },
  { name: 'everything removed', desired: [], result: [0, 3, 0] },
];

t.test('incremental apply keeps the kernel equal to a fresh render', async (t) => {
  const nft = fakeNft();
  const d = new NftablesDriver({ run: nft.run, log, table: 'tst' });
  await d.start();
  for (const step of steps) {
    const before = nft.scripts.length;
    const res = await d.apply(step.desired);
    t.same([res.added, res.removed, res.changed], step.result, `${step.name}: result`);
    const firsts = new Map<string, Service>();
    for (const s of step.desired.map(normalizeOne)) if (!firsts.has(s.key)) firsts.set(s.key, s);
    t.same(nonEmpty(nft.state), nonEmpty(renderElements(normalize([...firsts.values()]), 64)), `${step.name}: elements`);
    const written = nft.scripts.slice(before).join('');
    if (step.result.every((n) => n === 0)) t.equal(written, '', `${step.name}: no transaction`);
    for (const ip of step.touches ?? []) t.match(written, ip, `${step.name}: writes ${ip}`);
    for (const ip of step.untouched ?? []) t.notMatch(written, new RegExp(`\\b${ip.replace(/\./g, '\\.')} \\. `), `${step.name}: leaves ${ip} alone`);
  }
  t.ok(nonEmpty(nft.state).size === 0, 'no element left');
});

t.test('a failed transaction falls back to a full rebuild', async (t) => {
  const nft = fakeNft();
  const d = new NftablesDriver({ run: nft.run, log, table: 'tst' });
  await d.start();
  await d.apply([A, B]);
  nft.fail();
  await d.apply([A, B0, D]);
  t.same(nonEmpty(nft.state), nonEmpty(renderElements(normalize([A, B0, D]), 64)));
  t.match(nft.scripts.at(-1)!, /delete table inet tst/, 'rebuilt in one transaction');
  const res = await d.apply([A, B0]);
  t.same([res.added, res.removed, res.changed], [0, 1, 0], 'incremental again after the rebuild');
  t.same(nonEmpty(nft.state), nonEmpty(renderElements(normalize([A, B0]), 64)));
});
