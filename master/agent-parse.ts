/**
 * Parsers for what agents send (register, heartbeat, status). Bad input becomes a
 * ValidationError naming the field (HTTP 422) and changes nothing.
 */
import { isIP, isIPv6 } from 'node:net';
import { ConfigError, Fields, pointerPath, ValidationError } from '../common/index.js';
import type { HeartbeatRequest, PortRange, RegisterRequest, Resources, StatusUpdate, TaskReport, TaskState } from '../contracts/index.js';

const STATES: TaskState[] = [
  'TASK_STAGING', 'TASK_STARTING', 'TASK_RUNNING', 'TASK_KILLING', 'TASK_FINISHED', 'TASK_FAILED',
  'TASK_KILLED', 'TASK_LOST', 'TASK_ERROR', 'TASK_UNREACHABLE', 'TASK_GONE',
];

function guard<T>(fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof ConfigError) throw new ValidationError([{ path: pointerPath(e.field), errors: [e.reason] }]);
    throw e;
  }
}

function resources(f: Fields): Resources {
  const raw = f.raw('ports');
  const ports: PortRange[] = [];
  if (raw !== undefined) {
    if (!Array.isArray(raw)) throw new ConfigError(f.at('ports'), 'must be a list of [begin, end]');
    raw.forEach((r, i) => {
      const ok = Array.isArray(r) && r.length === 2 && r.every((n) => Number.isInteger(n) && n > 0 && n < 65536) && r[0] <= r[1];
      if (!ok) throw new ConfigError(`${f.at('ports')}[${i}]`, 'must be [begin, end] with 0 < begin <= end < 65536');
      ports.push([r[0], r[1]]);
    });
  }
  return {
    cpus: f.number('cpus', { required: true }, { min: 0 }),
    mem: f.number('mem', { required: true }, { min: 0 }),
    disk: f.number('disk', { default: 0 }, { min: 0 }),
    ports,
  };
}

function report(f: Fields): TaskReport {
  const state = f.string('state', { required: true }) as TaskState;
  if (!STATES.includes(state)) throw new ConfigError(f.at('state'), `unknown task state '${state}'`);
  const healthy = f.raw('healthy');
  if (healthy !== undefined && typeof healthy !== 'boolean') throw new ConfigError(f.at('healthy'), 'must be true or false');
  const cs = f.raw('container_status');
  if (cs !== undefined && (typeof cs !== 'object' || cs === null || !Array.isArray((cs as { network_infos?: unknown }).network_infos)))
    throw new ConfigError(f.at('container_status'), 'must be an object with network_infos[]');
  return {
    task_id: f.string('task_id', { required: true }),
    framework_id: f.string('framework_id', { default: '' }),
    state,
    timestamp: f.number('timestamp', { required: true }, { min: 0 }),
    ...(cs !== undefined ? { container_status: cs as TaskReport['container_status'] } : {}),
    ...(healthy !== undefined ? { healthy: healthy as boolean } : {}),
    ...(f.raw('seq') !== undefined ? { seq: f.number('seq', { required: true }, { min: 1, integer: true }) } : {}),
  };
}

export function parseRegister(body: unknown): RegisterRequest {
  return guard(() => {
    const f = new Fields(body);
    const ip = f.string('ip', { required: true });
    if (!isIP(ip)) throw new ConfigError('ip', `'${ip}' is not an IP address`);
    const ip6 = f.string('ip6', { default: '' });
    if (ip6 && !isIPv6(ip6)) throw new ConfigError('ip6', `'${ip6}' is not an IPv6 address`);
    const attrs = f.raw('attributes') ?? {};
    if (typeof attrs !== 'object' || Array.isArray(attrs) || Object.values(attrs as object).some((v) => typeof v !== 'string'))
      throw new ConfigError('attributes', 'must be an object of strings');
    const agentId = f.string('agent_id', { default: '' });
    const csr = f.string('csr', { default: '' });
    return {
      ...(csr ? { csr } : {}),
      ...(agentId ? { agent_id: agentId } : {}),
      hostname: f.string('hostname', { default: ip }),
      ip,
      ...(ip6 ? { ip6 } : {}),
      port: f.number('port', { required: true }, { min: 1, max: 65535, integer: true }),
      resources: resources(f.object('resources')),
      attributes: attrs as Record<string, string>,
      tasks: f.objects('tasks').map(report),
    };
  });
}

export function parseHeartbeat(body: unknown): HeartbeatRequest {
  return guard(() => ({ agent_id: new Fields(body).string('agent_id', { required: true }) }));
}

export function parseStatus(body: unknown): StatusUpdate {
  return guard(() => {
    const f = new Fields(body);
    const message = f.string('message', { default: '' });
    const reason = f.string('reason', { default: '' });
    return {
      ...report(f),
      agent_id: f.string('agent_id', { required: true }),
      uuid: f.string('uuid', { required: true }),
      seq: f.number('seq', { required: true }, { min: 1, integer: true }),
      ...(message ? { message } : {}),
      ...(reason ? { reason } : {}),
    };
  });
}
