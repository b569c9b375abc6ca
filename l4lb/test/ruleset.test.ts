import t from 'tap';
import { normalize } from '../services.js';
import { renderElements, slotsFor } from '../nft/ruleset.js';
import { servicesFrom } from '../nft/driver.js';
import type { Service } from '../driver.js';

t.test('slot counts follow weights, scaled to the maximum', async (t) => {
  const rows: [number[], number, number[]][] = [
    [[1, 1, 1], 64, [1, 1, 1]],
    [[1, 0, 2], 64, [1, 0, 2]],
    [[0, 0], 64, [0, 0]],
    [[100, 100], 64, [32, 32]],
    [[1, 1000], 8, [1, 7]],
  ];
  for (const [w, max, want] of rows) t.same(slotsFor(w, max), want, `${w} max ${max}`);
});

t.test('rendered elements read back as the same services (v4, v6, drain, scaled)', async (t) => {
  const svcs: Service[] = normalize([
    { key: '', vip: '11.0.0.1', port: 80, protocol: 'tcp', backends: [{ ip: '10.0.0.1', port: 1, weight: 1 }, { ip: '10.0.0.2', port: 1, weight: 0 }] },
    { key: '', vip: 'fd01:c:0::1', port: 53, protocol: 'udp', backends: [{ ip: 'fd01:b::1', port: 53, weight: 2 }] },
    { key: '', vip: '11.0.0.2', port: 80, protocol: 'tcp', backends: [{ ip: '10.0.0.3', port: 1, weight: 100 }, { ip: '10.0.0.4', port: 1, weight: 1 }] },
    { key: '', vip: '11.0.0.3', port: 80, protocol: 'tcp', backends: [{ ip: '10.0.0.3', port: 1, weight: 0 }] },
  ]);
  t.same(servicesFrom(renderElements(svcs, 8)), svcs);
  const el = renderElements(svcs, 8);
  t.equal(el.get('svc4')!.get('11.0.0.3 . tcp . 80'), 'goto no_backend', 'all draining: reject new connections');
  t.equal(el.get('svc6')!.get('fd01:c::1 . udp . 53'), 'goto pick2');
});
