/**
 * What the ipvs driver last wrote to the kernel, indexed so that `apply` of n services with k
 * changes costs n cheap comparisons plus planning for the k (no n-sized sets, copies or sorts):
 * each entry carries the mark of the last apply that wanted it, and each VIP a count of the
 * services on it, so a route is added with its first service and deleted with its last.
 *
 * `delta` plans (and marks the entries it saw); `commit` records the plan as written once the
 * kernel took it. A plan that failed is never committed: the driver drops the index and
 * reconciles against a kernel dump instead.
 */
import type { Service } from '../driver.js';
import { normalizeOne, sameBackends } from '../services.js';
import { emptyPlan, planRemoval, planService, type KernelService, type Plan } from './plan.js';

interface Entry {
  svc: KernelService;
  /** The apply that last wanted this service. */
  mark: number;
}

export interface Delta {
  plan: Plan;
  /** Record the plan as what the kernel now has. */
  commit(): void;
}

/** `s` (as the caller gave it) is exactly the normalized `k`: then it needs no normalizing. */
const same = (k: KernelService, s: Service) => k.vip === s.vip && k.port === s.port && k.protocol === s.protocol && sameBackends(k.backends, s.backends);

export class Written {
  private readonly byKey = new Map<string, Entry>();
  private readonly vipServices = new Map<string, number>();
  private marks = 0;

  /** `services` normalized, as written (first of duplicate keys). */
  constructor(
    services: KernelService[],
    private readonly sched: string,
  ) {
    for (const s of services) if (!this.byKey.has(s.key)) this.put(s, 0);
  }

  keys(): IterableIterator<string> {
    return this.byKey.keys();
  }

  /** The commands from what was written to `desired` (first of duplicate keys wins). */
  delta(desired: Service[]): Delta {
    const mark = ++this.marks;
    const plan = emptyPlan();
    const upserts: KernelService[] = [];
    const fresh = new Set<string>();
    let kept = 0;
    for (const s of desired) {
      const e = this.byKey.get(s.key);
      if (e && same(e.svc, s)) {
        if (e.mark !== mark) (e.mark = mark), kept++;
        continue;
      }
      const n = normalizeOne(s);
      const f = n.key === s.key ? e : this.byKey.get(n.key);
      if (f) {
        if (f.mark === mark) continue; // an earlier duplicate won
        f.mark = mark;
        kept++;
        if (sameBackends(f.svc.backends, n.backends)) continue;
      } else if (fresh.has(n.key)) continue;
      else fresh.add(n.key);
      planService(plan, f?.svc, n, this.sched);
      upserts.push(n);
    }
    const removed: KernelService[] = [];
    if (kept < this.byKey.size) for (const e of this.byKey.values()) if (e.mark !== mark) removed.push(e.svc);
    for (const o of removed) planRemoval(plan, o, this.sched);
    // Route changes: a VIP gains its route with its first service and loses it with its last.
    const vipDelta = new Map<string, number>();
    for (const s of upserts) if (fresh.has(s.key)) vipDelta.set(s.vip, (vipDelta.get(s.vip) ?? 0) + 1);
    for (const o of removed) vipDelta.set(o.vip, (vipDelta.get(o.vip) ?? 0) - 1);
    for (const [vip, d] of vipDelta) {
      const before = this.vipServices.get(vip) ?? 0;
      if (!before && d > 0) plan.routesAdd.push(vip);
      else if (before && before + d === 0) plan.routesDel.push(vip);
    }
    return {
      plan,
      commit: () => {
        for (const o of removed) this.drop(o);
        for (const s of upserts) {
          if (fresh.has(s.key)) this.put(s, mark);
          else this.byKey.get(s.key)!.svc = this.scheduled(s);
        }
      },
    };
  }

  private scheduled(s: KernelService): KernelService {
    return s.sched === this.sched ? s : { ...s, sched: this.sched };
  }

  private put(s: KernelService, mark: number): void {
    this.byKey.set(s.key, { svc: this.scheduled(s), mark });
    this.vipServices.set(s.vip, (this.vipServices.get(s.vip) ?? 0) + 1);
  }

  private drop(s: KernelService): void {
    this.byKey.delete(s.key);
    const left = (this.vipServices.get(s.vip) ?? 1) - 1;
    if (left) this.vipServices.set(s.vip, left);
    else this.vipServices.delete(s.vip);
  }
}
