/**
 * Resource offers with Dominant Resource Fairness. One allocation round repeatedly offers an
 * agent's free resources to the framework with the lowest dominant share (that wants offers and
 * has not filtered that agent); a framework accepts by returning tasks, or declines with
 * `refuseSeconds` (a filter on that agent until then, cleared by revive). The round ends when no
 * framework takes anything. Pure logic: the master supplies agents, frameworks and the clock.
 */
import type { Resources, TaskInfo } from '../contracts/index.js';
import type { AgentRecord } from './model.js';
import { subtractPorts } from './ports.js';

export interface Offer {
  id: string;
  agent: AgentRecord;
  /** What is free on the agent right now. */
  resources: Resources;
}

export type OfferReply = { launch: TaskInfo[] } | { decline: { refuseSeconds: number } };

/** What a framework (built-in, like Marathon) implements to receive offers. */
export interface FrameworkScheduler {
  readonly name: string;
  wantsOffers(): boolean;
  resourceOffer(offer: Offer): OfferReply;
}

export interface AgentSlot {
  agent: AgentRecord;
  free: Resources;
}

export interface FrameworkSlot {
  id: string;
  scheduler: FrameworkScheduler;
  allocated: Scalars;
}

export interface Scalars {
  cpus: number;
  mem: number;
  disk: number;
}

export interface RoundResult {
  launched: { frameworkId: string; task: TaskInfo }[];
  offers: number;
  declines: number;
}

/** Decline filters, keyed by framework and agent; values are expiry times (ms). */
export class DeclineFilters {
  private readonly until = new Map<string, number>();
  add(frameworkId: string, agentId: string, untilMs: number): void {
    this.until.set(`${frameworkId} ${agentId}`, untilMs);
  }
  blocked(frameworkId: string, agentId: string, nowMs: number): boolean {
    const u = this.until.get(`${frameworkId} ${agentId}`);
    return u !== undefined && u > nowMs;
  }
  /** A framework revives offers: its filters go. */
  revive(frameworkId: string): void {
    for (const k of [...this.until.keys()]) if (k.startsWith(`${frameworkId} `)) this.until.delete(k);
  }
  /** The earliest expiry after now (to schedule the next round), if any. */
  nextExpiry(nowMs: number): number | undefined {
    let min: number | undefined;
    for (const u of this.until.values()) if (u > nowMs && (min === undefined || u < min)) min = u;
    return min;
  }
}

export function dominantShare(allocated: Scalars, total: Scalars): number {
  let share = 0;
  for (const k of ['cpus', 'mem', 'disk'] as const) if (total[k] > 0) share = Math.max(share, allocated[k] / total[k]);
  return share;
}

export function totalOf(agents: { resources: Scalars }[]): Scalars {
  const t = { cpus: 0, mem: 0, disk: 0 };
  for (const a of agents) {
    t.cpus += a.resources.cpus;
    t.mem += a.resources.mem;
    t.disk += a.resources.disk;
  }
  return t;
}

/** Whether a task's resources fit in what is free (ports checked by the framework's choice). */
export function fits(task: TaskInfo, free: Resources): boolean {
  const eps = 1e-9;
  return task.resources.cpus <= free.cpus + eps && task.resources.mem <= free.mem + eps && task.resources.disk <= free.disk + eps;
}

export function take(free: Resources, task: TaskInfo): Resources {
  return {
    cpus: round(free.cpus - task.resources.cpus),
    mem: round(free.mem - task.resources.mem),
    disk: round(free.disk - task.resources.disk),
    ports: subtractPorts(free.ports, task.ports),
  };
}

function round(n: number): number {
  return Math.round(n * 1e6) / 1e6;
}

export interface RoundInput {
  agents: AgentSlot[];
  frameworks: FrameworkSlot[];
  filters: DeclineFilters;
  nowMs: number;
  /** Rotates which agent is offered first, so launches spread. */
  startAgent?: number;
  /** Safety bound on launches in one round. */
  maxLaunches?: number;
  newOfferId: () => string;
}

/** Run one allocation round; mutates the slots' free/allocated as tasks are accepted. */
export function allocateRound(input: RoundInput): RoundResult {
  const res: RoundResult = { launched: [], offers: 0, declines: 0 };
  const total = totalOf(input.agents.map((a) => ({ resources: a.agent.resources })));
  const max = input.maxLaunches ?? 100_000;
  let start = input.startAgent ?? 0;
  while (res.launched.length < max) {
    const order = input.frameworks
      .filter((f) => f.scheduler.wantsOffers())
      .sort((a, b) => dominantShare(a.allocated, total) - dominantShare(b.allocated, total) || (a.id < b.id ? -1 : 1));
    let progressed = false;
    for (const fw of order) {
      if (offerAgents(input, fw, start, res)) {
        progressed = true;
        start++;
        break;
      }
    }
    if (!progressed) break;
  }
  return res;
}

/** Offer agents to one framework until it accepts one; true when it launched something. */
function offerAgents(input: RoundInput, fw: FrameworkSlot, start: number, res: RoundResult): boolean {
  const n = input.agents.length;
  for (let i = 0; i < n; i++) {
    const slot = input.agents[(start + i) % n]!;
    if (!slot.agent.active || input.filters.blocked(fw.id, slot.agent.agent_id, input.nowMs)) continue;
    if (slot.free.cpus <= 0 && slot.free.mem <= 0) continue;
    res.offers++;
    const reply = fw.scheduler.resourceOffer({ id: input.newOfferId(), agent: slot.agent, resources: slot.free });
    const tasks = 'launch' in reply ? reply.launch : [];
    const accepted = tasks.filter((t) => {
      if (!fits(t, slot.free)) return false;
      slot.free = take(slot.free, t);
      fw.allocated.cpus += t.resources.cpus;
      fw.allocated.mem += t.resources.mem;
      fw.allocated.disk += t.resources.disk;
      res.launched.push({ frameworkId: fw.id, task: t });
      return true;
    });
    if (accepted.length) return true;
    res.declines++;
    const secs = 'decline' in reply ? reply.decline.refuseSeconds : 5;
    input.filters.add(fw.id, slot.agent.agent_id, input.nowMs + secs * 1000);
  }
  return false;
}
