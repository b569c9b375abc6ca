/**
 * JSON Schemas of the master <-> agent protocol messages the master receives (protocol.ts):
 * register, heartbeat and status. The compile-time checks at the bottom keep each schema's type
 * (FromSchema) and the protocol's interface in step: change one without the other and the build
 * fails.
 */
import type { FromSchema } from '../common/index.js';
import { DEFAULT_LIMITS, LIMIT_ENV, type Limits } from './limits.js';
import type { HeartbeatRequest, RegisterRequest, StatusUpdate } from '../contracts/index.js';

const STATES = ['TASK_STAGING', 'TASK_STARTING', 'TASK_RUNNING', 'TASK_KILLING', 'TASK_FINISHED', 'TASK_FAILED', 'TASK_KILLED', 'TASK_LOST', 'TASK_ERROR', 'TASK_UNREACHABLE', 'TASK_GONE'] as const;
const ID = { type: 'string', minLength: 1, maxLength: 255 } as const;

const containerStatus = {
  type: 'object',
  required: ['network_infos'],
  properties: {
    network_infos: {
      type: 'array',
      maxItems: 16,
      items: {
        type: 'object',
        required: ['ip_addresses'],
        properties: {
          name: { type: 'string', maxLength: 64 },
          ip_addresses: { type: 'array', maxItems: 16, items: { type: 'object', required: ['ip_address'], properties: { protocol: { type: 'string', enum: ['IPv4', 'IPv6'] }, ip_address: { type: 'string', format: 'ip' } } } },
        },
      },
    },
    executor_pid: { type: 'integer', minimum: 1 },
  },
} as const;

const reportProps = {
  task_id: ID,
  framework_id: { type: 'string', maxLength: 255 },
  state: { type: 'string', enum: STATES },
  timestamp: { type: 'number', minimum: 0 },
  container_status: containerStatus,
  healthy: { type: 'boolean' },
  seq: { type: 'integer', minimum: 1, maximum: Number.MAX_SAFE_INTEGER },
} as const;

const taskReport = { type: 'object', required: ['task_id', 'state', 'timestamp'], properties: reportProps } as const;

export function registerSchema(l: Limits = DEFAULT_LIMITS) {
  return {
    title: 'RegisterRequest',
    type: 'object',
    required: ['ip', 'port', 'resources'],
    properties: {
      agent_id: { type: 'string', maxLength: 255 },
      hostname: { type: 'string', maxLength: 253 },
      ip: { type: 'string', format: 'ip' },
      ip6: { type: 'string', format: 'ipv6' },
      port: { type: 'integer', minimum: 1, maximum: 65535 },
      resources: {
        type: 'object',
        required: ['cpus', 'mem'],
        properties: {
          cpus: { type: 'number', minimum: 0 },
          mem: { type: 'number', minimum: 0 },
          disk: { type: 'number', minimum: 0 },
          ports: { type: 'array', maxItems: 1024, items: { type: 'array', minItems: 2, maxItems: 2, items: { type: 'integer', minimum: 1, maximum: 65535 } } },
        },
      },
      attributes: { type: 'object', maxProperties: 100, additionalProperties: { type: 'string', maxLength: 1024 } },
      tasks: { type: 'array', maxItems: l.tasksPerAgent, 'x-bound': LIMIT_ENV.tasksPerAgent, items: taskReport },
      csr: { type: 'string', maxLength: 8192 },
    },
  } as const;
}

export const heartbeatSchema = { title: 'HeartbeatRequest', type: 'object', required: ['agent_id'], properties: { agent_id: ID } } as const;

export const statusSchema = {
  title: 'StatusUpdate',
  type: 'object',
  required: ['agent_id', 'uuid', 'seq', 'task_id', 'state', 'timestamp'],
  properties: { ...reportProps, agent_id: ID, uuid: ID, message: { type: 'string', maxLength: 4096 }, reason: { type: 'string', maxLength: 255 } },
} as const;

export type RegisterBody = FromSchema<ReturnType<typeof registerSchema>>;
export type HeartbeatBody = FromSchema<typeof heartbeatSchema>;
export type StatusBody = FromSchema<typeof statusSchema>;

// Compile-time: every message an agent builds from protocol.ts passes the schema, and both name
// the same fields (the schema may leave out what the parser defaults, like framework_id).
type Accepts<Schema, Msg> = [Msg] extends [Schema] ? ([keyof Schema] extends [keyof Msg] ? ([keyof Msg] extends [keyof Schema] ? true : false) : false) : false;
const heartbeatInStep: Accepts<HeartbeatBody, HeartbeatRequest> = true;
const statusInStep: Accepts<StatusBody, StatusUpdate> = true;
const registerInStep: Accepts<Omit<RegisterBody, 'resources'>, Omit<RegisterRequest, 'resources'>> = true;
void [heartbeatInStep, statusInStep, registerInStep];
