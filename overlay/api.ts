/**
 * The admin API, mounted on the master's Mesos port:
 *   GET/POST /v1/networks, GET/DELETE /v1/networks/{name} (?force=true when in use)
 *   GET/POST/DELETE /v1/networks/isolation   (policies {network, default}, rules {from, to, ports?, protocol?})
 *   DELETE /v1/agents/{id}/overlay            (free an agent's share)
 *   GET /v1/overlay/agents                    (allocations and exhaustion errors)
 * Bad input answers 422 naming the field and stores nothing. The writes of networks and isolation
 * answer with the header `X-Sextant-Control-Version`: the control-plane version that carries the write
 * (or the current one when it changed nothing), when the master runs a control plane.
 */
import { ConfigError, ConflictError, NotFoundError, requestJson, ValidationError, type ClientTls, type Request, type Router } from '../common/index.js';
import { CONTROL_VERSION_HEADER, type IsolationRule, type OverlayAgent } from '../contracts/index.js';
import type { Allocator } from './allocator.js';
import { parseNetwork, parsePolicy, parseRule } from './config.js';
import { isolationSchema, networkSchema } from './schema.js';

export interface ApiDeps {
  allocator: Allocator;
  vtepSubnet: string;
  /** Non-terminal tasks attached to a network (a network in use needs force to be removed). */
  tasksOn(network: string): string[];
  /** Where an agent serves `GET /v1/overlay/isolation` (counters); undefined = not reachable. */
  agentUrl(agent: OverlayAgent): string | undefined;
  /** Why a subnet may not be used (loopback, VIP ranges, node addresses: the master's address book), or undefined. */
  subnetRefusal?(cidr: string): string | undefined;
  /** Bounds: networks, isolation rules that name one network. */
  maxNetworks: number;
  maxRulesPerNetwork: number;
  /** The master's mutual-TLS material for the agents' https APIs (#30); absent: plain HTTP. */
  tls?: ClientTls;
  /** The control-plane version carrying what the allocator holds now (MasterControl.settledVersion); absent or undefined: no header. */
  settledVersion?(): Promise<number | undefined>;
}

type Reply = { status?: number; json: unknown };

/** A write's reply with the version that carries it in CONTROL_VERSION_HEADER (asked after the write is done). */
function carried(d: ApiDeps, write: (req: Request) => Promise<Reply>): (req: Request) => Promise<Reply & { headers?: Record<string, string> }> {
  return async (req) => {
    const reply = await write(req);
    const version = await d.settledVersion?.();
    return version === undefined ? reply : { ...reply, headers: { [CONTROL_VERSION_HEADER]: String(version) } };
  };
}

/** Turn a parser's ConfigError into the 422 the router answers. */
function parsed<T>(fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof ConfigError) throw new ValidationError([{ path: e.field, errors: [e.reason] }]);
    throw e;
  }
}

export function mountApi(router: Router, d: ApiDeps): void {
  const a = d.allocator;
  router.get('/v1/networks/isolation', async () => ({ json: await isolationView(d) }));
  router.post('/v1/networks/isolation', carried(d, (req) => postIsolation(d, req)), { summary: 'set a network default (body with "default") or add an allow rule', body: isolationSchema, paths: 'dotted' });
  router.delete('/v1/networks/isolation', carried(d, (req) => deleteIsolation(d, req)), { summary: 'remove a default (?network=) or a rule (?rule=KEY or the rule as body)', query: { network: 'network name', rule: 'rule key' } });
  router.get('/v1/networks', () => ({ json: { networks: [...a.networks.values()].map((n) => networkView(a, n.name)) } }));
  router.get('/v1/networks/:name', (req) => {
    if (!a.networks.has(req.params.name!)) throw new NotFoundError(`no network "${req.params.name}"`);
    return { json: networkView(a, req.params.name!) };
  });
  router.post(
    '/v1/networks',
    carried(d, async (req) => {
      const n = parsed(() => parseNetwork(req.body, [...a.networks.values()], d.vtepSubnet));
      const refused = [['/subnet', n.subnet], ['/subnet6', n.subnet6]].flatMap(([path, c]) => {
        const why = c ? d.subnetRefusal?.(c) : undefined;
        return why ? [{ path: path!.slice(1), errors: [`${why} (address ownership)`] }] : [];
      });
      if (refused.length) throw new ValidationError(refused);
      if (a.networks.size >= d.maxNetworks) throw new ValidationError([{ path: 'name', errors: [`${a.networks.size} networks exist, the most allowed (maxNetworks ${d.maxNetworks}, set by SEXTANT_MAX_NETWORKS)`] }]);
      await a.addNetwork(n);
      return { status: 201, json: networkView(a, n.name) };
    }),
    { summary: 'create a virtual network', body: networkSchema, paths: 'dotted' },
  );
  router.delete('/v1/networks/:name', carried(d, async (req) => {
    const name = req.params.name!;
    if (!a.networks.has(name)) throw new NotFoundError(`no network "${name}"`);
    const tasks = d.tasksOn(name);
    if (tasks.length && req.query.get('force') !== 'true') throw new ConflictError(`network "${name}" is in use by ${tasks.length} task(s) (${tasks.slice(0, 3).join(', ')}); use ?force=true`);
    await a.removeNetwork(name);
    return { json: { removed: name } };
  }));
  router.delete('/v1/agents/:id/overlay', async (req) => {
    if (!(await a.releaseAgent(req.params.id!))) throw new NotFoundError(`agent ${req.params.id} has no overlay allocation`);
    return { json: { released: req.params.id } };
  });
  router.get('/v1/overlay/agents', () => ({
    json: { agents: [...a.agents.values()], errors: Object.fromEntries(a.errors) },
  }));
}

function networkView(a: Allocator, name: string): Record<string, unknown> {
  const agents = [...a.agents.values()].filter((x) => x.subnets[name]).map((x) => ({ agent_id: x.agent_id, ...x.subnets[name] }));
  return { ...a.networks.get(name), agents };
}

async function postIsolation(d: ApiDeps, req: Request) {
  const nets = [...d.allocator.networks.values()];
  const body = req.body as Record<string, unknown> | undefined;
  if (body && typeof body === 'object' && 'default' in body) {
    const p = parsed(() => parsePolicy(body, nets));
    await d.allocator.putPolicy(p);
    return { status: 201, json: p };
  }
  const r = parsed(() => parseRule(body, nets));
  if (!d.allocator.rules.has(r.key)) {
    for (const [path, ep] of [['from', r.from], ['to', r.to]] as const) {
      const net = ep.split('/')[0]!;
      const n = [...d.allocator.rules.values()].filter((x) => x.from.split('/')[0] === net || x.to.split('/')[0] === net).length;
      if (n >= d.maxRulesPerNetwork)
        throw new ValidationError([{ path, errors: [`network "${net}" is named by ${n} rules, the most allowed (maxRulesPerNetwork ${d.maxRulesPerNetwork}, set by SEXTANT_MAX_RULES_PER_NETWORK)`] }]);
    }
  }
  await d.allocator.putRule(r);
  return { status: 201, json: r };
}

async function deleteIsolation(d: ApiDeps, req: Request) {
  const a = d.allocator;
  const network = req.query.get('network');
  if (network !== null) {
    if (!(await a.removePolicy(network))) throw new NotFoundError(`network "${network}" has no isolation default`);
    return { json: { removed: network } };
  }
  let key = req.query.get('rule');
  if (key === null) key = parsed(() => parseRule(req.body, [...a.networks.values()])).key;
  if (!(await a.removeRule(key))) throw new NotFoundError(`no isolation rule "${key}"`);
  return { json: { removed: key } };
}

/** Policies and rules, with packet counters summed over the agents that answered. */
async function isolationView(d: ApiDeps) {
  const a = d.allocator;
  const counters = new Map<string, { packets: number; bytes: number }>();
  const answered: string[] = [];
  await Promise.all(
    [...a.agents.values()].map(async (ag) => {
      const url = d.agentUrl(ag);
      if (!url) return;
      try {
        const r = await requestJson(url, { timeoutMs: 1000, ...(d.tls ? { tls: d.tls } : {}) });
        if (r.status !== 200) return;
        answered.push(ag.agent_id);
        for (const c of (r.body as { counters?: { key: string; packets: number; bytes: number }[] }).counters ?? []) {
          const cur = counters.get(c.key) ?? { packets: 0, bytes: 0 };
          counters.set(c.key, { packets: cur.packets + c.packets, bytes: cur.bytes + c.bytes });
        }
      } catch {
        /* agent unreachable: its counters are missing from the sum */
      }
    }),
  );
  const withCounters = (key: string) => counters.get(key) ?? { packets: 0, bytes: 0 };
  return {
    policies: [...a.networks.keys()].map((n) => ({ network: n, default: a.policies.get(n)?.default ?? 'allow', ...withCounters(`default:${n}`) })),
    rules: [...a.rules.values()].map((r: IsolationRule) => ({ ...r, ...withCounters(r.key) })),
    counters_from: answered.sort(),
  };
}
