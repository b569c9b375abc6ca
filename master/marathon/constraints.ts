/**
 * Placement constraints, checked against one offer: the agent's field value (`hostname` or an
 * attribute) and where the app's other tasks already run.
 */
import type { Constraint } from './app.js';
import type { AgentRecord } from '../model.js';

export interface Placed {
  agent_id: string;
}

export function fieldValue(agent: AgentRecord, field: string): string | undefined {
  if (field === 'hostname') return agent.hostname;
  return agent.attributes[field];
}

/**
 * Whether a new task of the app may go on `agent`, given its running tasks (`placed`) and the
 * agents known (for GROUP_BY's set of values).
 */
export function satisfies(c: Constraint, agent: AgentRecord, placed: Placed[], agents: Map<string, AgentRecord>): boolean {
  const value = fieldValue(agent, c.field);
  const valueOf = (p: Placed) => {
    const a = agents.get(p.agent_id);
    return a ? fieldValue(a, c.field) : undefined;
  };
  switch (c.operator) {
    case 'UNIQUE':
      return value !== undefined && !placed.some((p) => valueOf(p) === value);
    case 'CLUSTER': {
      if (value === undefined) return false;
      if (c.value) return value === c.value;
      const first = placed.map(valueOf).find((v) => v !== undefined);
      return first === undefined || first === value;
    }
    case 'LIKE':
      return value !== undefined && new RegExp(`^(?:${c.value})$`).test(value);
    case 'UNLIKE':
      return value === undefined || !new RegExp(`^(?:${c.value})$`).test(value);
    case 'MAX_PER':
      return value !== undefined && placed.filter((p) => valueOf(p) === value).length < Number(c.value);
    case 'GROUP_BY':
      return groupByAllows(value, placed.map(valueOf), agents, c);
  }
}

/** Spread evenly over the values of the field: only a value with the fewest tasks may take one. */
function groupByAllows(value: string | undefined, placedValues: (string | undefined)[], agents: Map<string, AgentRecord>, c: Constraint): boolean {
  if (value === undefined) return false;
  const counts = new Map<string, number>();
  for (const a of agents.values()) {
    const v = fieldValue(a, c.field);
    if (v !== undefined && a.active) counts.set(v, 0);
  }
  for (const v of placedValues) if (v !== undefined) counts.set(v, (counts.get(v) ?? 0) + 1);
  const min = Math.min(...counts.values());
  return (counts.get(value) ?? 0) <= min;
}

export function satisfiesAll(cs: Constraint[], agent: AgentRecord, placed: Placed[], agents: Map<string, AgentRecord>): boolean {
  return cs.every((c) => satisfies(c, agent, placed, agents));
}
