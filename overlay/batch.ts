/**
 * `Op[]` rendered as iproute2 batch text (pure): fdb ops go to `bridge -batch`, all others, in
 * order, to `ip -batch`. The iproute2 driver runs these; the text also names an op in errors and
 * in the agent's sync report, whichever driver applied it.
 */
import { MAIN_TABLE, type Op } from './ops.js';

/** The batches for one plan: `ip -batch` lines, then `bridge -batch` lines. */
export interface Plan {
  ip: string[];
  bridge: string[];
}

const table = (t: number): string => (t === MAIN_TABLE ? '' : ` table ${t}`);

/** One op as the batch line iproute2 runs for it (without the `ip`/`bridge` command). */
export function opText(o: Op): string {
  switch (o.op) {
    case 'vxlan.add':
      return `link add ${o.name} type vxlan id ${o.vni} dstport ${o.port} nolearning noudpcsum`;
    case 'bridge.add':
      return `link add ${o.name} type bridge`;
    case 'link.set':
      return `link set ${o.name}${o.mac !== undefined ? ` address ${o.mac}` : ''} mtu ${o.mtu}${o.up ? ' up' : ''}`;
    case 'link.del':
      return `link del ${o.name}`;
    case 'addr.replace':
      return `addr replace ${o.cidr} dev ${o.dev}${o.nodad ? ' nodad' : ''}`;
    case 'addr.del':
      return `addr del ${o.cidr} dev ${o.dev}`;
    case 'neigh.replace':
      return `neigh replace ${o.ip} lladdr ${o.mac} dev ${o.dev} nud permanent`;
    case 'neigh.del':
      return `neigh del ${o.ip} dev ${o.dev}`;
    case 'route.replace':
      return `route replace ${o.dst} via ${o.via} dev ${o.dev} onlink${table(o.table)}`;
    case 'route.del':
      return `route del ${o.dst}${o.dev !== undefined ? ` dev ${o.dev}` : ''}${table(o.table)}`;
    case 'rule.add':
    case 'rule.del':
      // `ip rule` takes IPv4 unless told otherwise (`ip -6 rule`); the iproute2 driver runs `-6` lines in an `ip -6 -batch`.
      return `${o.src.includes(':') ? '-6 ' : ''}rule ${o.op === 'rule.add' ? 'add' : 'del'} from ${o.src} lookup ${o.table} pref ${o.pref}`;
    case 'fdb.replace':
      return `fdb replace ${o.mac} dev ${o.dev} dst ${o.dst} self permanent`;
    case 'fdb.del':
      return `fdb del ${o.mac} dev ${o.dev} dst ${o.dst} self`;
  }
}

export function renderBatch(ops: Op[]): Plan {
  const plan: Plan = { ip: [], bridge: [] };
  for (const o of ops) (o.op.startsWith('fdb.') ? plan.bridge : plan.ip).push(opText(o));
  return plan;
}
