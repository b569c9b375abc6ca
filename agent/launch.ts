/**
 * Parsers for what the master sends: LaunchRequest and KillRequest bodies. Either a typed value
 * or a ValidationError listing every bad path (the router answers 422 and nothing is started).
 */
import { ValidationError } from '../common/errors.js';
import type { KillRequest, TaskInfo } from '../contracts/index.js';
import { isSafeTaskId } from './workdir.js';

type Problems = { path: string; errors: string[] }[];

function add(p: Problems, path: string, error: string): void {
  const hit = p.find((x) => x.path === path);
  if (hit) hit.errors.push(error);
  else p.push({ path, errors: [error] });
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export function parseLaunch(body: unknown): TaskInfo {
  const p: Problems = [];
  if (!isObj(body) || !isObj(body.task)) throw new ValidationError([{ path: '/task', errors: ['must be an object'] }]);
  const t = body.task;
  if (typeof t.task_id !== 'string' || !isSafeTaskId(t.task_id)) add(p, '/task/task_id', 'must be a string of [A-Za-z0-9._-] (at most 200 chars)');
  for (const k of ['name', 'framework_id'] as const) if (typeof t[k] !== 'string') add(p, `/task/${k}`, 'must be a string');
  if (!isObj(t.command) || typeof t.command.value !== 'string' || !t.command.value) add(p, '/task/command/value', 'must be a non-empty string');
  else if (t.command.arguments !== undefined && !(Array.isArray(t.command.arguments) && t.command.arguments.every((a) => typeof a === 'string')))
    add(p, '/task/command/arguments', 'must be a list of strings');
  if (t.env !== undefined && !(isObj(t.env) && Object.values(t.env).every((v) => typeof v === 'string'))) add(p, '/task/env', 'must map names to strings');
  if (t.ports !== undefined && !(Array.isArray(t.ports) && t.ports.every((x) => Number.isInteger(x) && x > 0 && x < 65536))) add(p, '/task/ports', 'must be a list of ports');
  if (t.kill_grace_period_ms !== undefined && !(typeof t.kill_grace_period_ms === 'number' && t.kill_grace_period_ms >= 0))
    add(p, '/task/kill_grace_period_ms', 'must be a number >= 0');
  if (t.network !== undefined && !(isObj(t.network) && typeof t.network.name === 'string' && t.network.name)) add(p, '/task/network/name', 'must be a non-empty string');
  if (t.health_check !== undefined) checkHealth(t.health_check, p);
  if (p.length) throw new ValidationError(p);
  const cmd = t.command as Record<string, unknown>;
  return {
    ...(t as unknown as TaskInfo),
    agent_id: typeof t.agent_id === 'string' ? t.agent_id : '',
    command: { value: cmd.value as string, shell: cmd.shell !== false, ...(cmd.arguments ? { arguments: cmd.arguments as string[] } : {}) },
    env: (t.env as Record<string, string>) ?? {},
    ports: (t.ports as number[]) ?? [],
    labels: Array.isArray(t.labels) ? (t.labels as TaskInfo['labels']) : [],
    resources: isObj(t.resources) ? (t.resources as unknown as TaskInfo['resources']) : { cpus: 0, mem: 0, disk: 0, ports: [] },
    kill_grace_period_ms: typeof t.kill_grace_period_ms === 'number' ? t.kill_grace_period_ms : 3000,
  };
}

function checkHealth(h: unknown, p: Problems): void {
  if (!isObj(h)) return add(p, '/task/health_check', 'must be an object');
  if (!['HTTP', 'TCP', 'COMMAND'].includes(h.protocol as string)) add(p, '/task/health_check/protocol', 'must be HTTP, TCP or COMMAND');
  for (const k of ['interval_seconds', 'timeout_seconds', 'grace_period_seconds', 'max_consecutive_failures'])
    if (typeof h[k] !== 'number' || (h[k] as number) < 0) add(p, `/task/health_check/${k}`, 'must be a number >= 0');
  if (h.protocol === 'COMMAND' && typeof h.command !== 'string') add(p, '/task/health_check/command', 'must be a string for COMMAND checks');
}

export function parseKill(body: unknown): KillRequest {
  if (!isObj(body) || typeof body.task_id !== 'string' || !body.task_id) throw new ValidationError([{ path: '/task_id', errors: ['must be a non-empty string'] }]);
  if (body.grace_period_ms !== undefined && !(typeof body.grace_period_ms === 'number' && body.grace_period_ms >= 0))
    throw new ValidationError([{ path: '/grace_period_ms', errors: ['must be a number >= 0'] }]);
  return { task_id: body.task_id, ...(typeof body.grace_period_ms === 'number' ? { grace_period_ms: body.grace_period_ms } : {}) };
}
