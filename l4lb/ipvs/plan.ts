/**
 * Pure planning: what the kernel has (services with destinations and scheduler, local routes)
 * versus what is desired -> the minimal list of IPVS commands and route changes, in the order that
 * keeps traffic working: services, then destinations, then routes; removals of routes before the
 * services behind them.
 */
import type { ApplyResult, Backend, Service } from '../driver.js';
import { sameBackends, serviceKey } from '../services.js';
import { Cmd } from './constants.js';
import { destAttr, serviceAttr, type IpvsService } from './codec.js';
import type { IpvsOp } from './genl.js';

/** A service as read back from (or last written to) the kernel. */
export interface KernelService extends Service {
  sched?: string;
}

export interface Plan {
  /** NEW_SERVICE / SET_SERVICE: independent of each other. */
  services: IpvsOp[];
  /** NEW/SET/DEL_DEST: their services exist once `services` ran. */
  dests: IpvsOp[];
  routesAdd: string[];
  routesDel: string[];
  /** DEL_SERVICE, after their routes are gone. */
  removals: IpvsOp[];
  result: ApplyResult;
}

const ident = (s: Service, sched: string): IpvsService => ({ protocol: s.protocol, addr: s.vip, port: s.port, sched });
const bkey = (b: Backend) => `${b.ip}|${b.port}`;

function destOps(s: Service, before: Backend[], after: Backend[], sched: string): IpvsOp[] {
  if (sameBackends(before, after)) return [];
  const svc = serviceAttr(ident(s, sched), false);
  const label = (b: Backend) => `${s.key} -> ${b.ip}:${b.port}`;
  const old = new Map(before.map((b) => [bkey(b), b]));
  const ops: IpvsOp[] = [];
  for (const b of after) {
    const o = old.get(bkey(b));
    old.delete(bkey(b));
    const set: IpvsOp = { cmd: Cmd.SET_DEST, attrs: [svc, destAttr({ addr: b.ip, port: b.port, weight: b.weight }, true)], label: label(b) };
    if (!o) ops.push({ ...set, cmd: Cmd.NEW_DEST, onExist: set });
    else if (o.weight !== b.weight) ops.push(set);
  }
  for (const b of old.values()) ops.push({ cmd: Cmd.DEL_DEST, attrs: [svc, destAttr({ addr: b.ip, port: b.port, weight: 0 }, false)], label: label(b), okErrors: ['ENOENT', 'ESRCH'] });
  return ops;
}

export const emptyPlan = (): Plan => ({ services: [], dests: [], routesAdd: [], routesDel: [], removals: [], result: { added: 0, removed: 0, changed: 0 } });

/** Commands that take one service from `o` (undefined: absent) to `s`; both normalized. */
export function planService(plan: Plan, o: KernelService | undefined, s: Service, sched: string): void {
  if (!o) {
    const full = serviceAttr(ident(s, sched), true);
    plan.result.added++;
    plan.services.push({ cmd: Cmd.NEW_SERVICE, attrs: [full], label: s.key, onExist: { cmd: Cmd.SET_SERVICE, attrs: [full], label: s.key } });
    plan.dests.push(...destOps(s, [], s.backends, sched));
    return;
  }
  const ops = destOps(s, o.backends, s.backends, sched);
  const schedWrong = o.sched !== undefined && o.sched !== sched;
  if (schedWrong) plan.services.push({ cmd: Cmd.SET_SERVICE, attrs: [serviceAttr(ident(s, sched), true)], label: s.key });
  if (ops.length || schedWrong) plan.result.changed++;
  plan.dests.push(...ops);
}

/** The command that removes service `o` (after its route is gone). */
export function planRemoval(plan: Plan, o: KernelService, sched: string): void {
  plan.result.removed++;
  plan.removals.push({ cmd: Cmd.DEL_SERVICE, attrs: [serviceAttr(ident(o, sched), false)], label: o.key, okErrors: ['ESRCH', 'ENOENT'] });
}

/**
 * `have` and `want` must be normalized (canonical addresses, sorted backends). `routes` is the
 * set of VIPs with a local route on the interface (undefined: derive it from `have`).
 */
export function planChanges(have: Map<string, KernelService>, want: Service[], sched: string, routes?: Set<string>): Plan {
  const plan = emptyPlan();
  const seen = new Set<string>();
  const wantVips = new Set<string>();
  for (const s of want) {
    if (seen.has(s.key)) continue; // duplicate key: the first one wins
    seen.add(s.key);
    wantVips.add(s.vip);
    planService(plan, have.get(s.key), s, sched);
  }
  for (const [k, o] of have) if (!seen.has(k)) planRemoval(plan, o, sched);
  const haveVips = routes ?? new Set([...have.values()].map((s) => s.vip));
  for (const v of wantVips) if (!haveVips.has(v)) plan.routesAdd.push(v);
  for (const v of haveVips) if (!wantVips.has(v)) plan.routesDel.push(v);
  return plan;
}

export function opCount(p: Plan): number {
  return p.services.length + p.dests.length + p.removals.length + p.routesAdd.length + p.routesDel.length;
}

/** Key of a kernel service, the same as the desired one's. */
export function kernelKey(s: IpvsService): string {
  return serviceKey(s.protocol, s.addr, s.port);
}
