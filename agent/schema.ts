/**
 * JSON Schemas of what the master sends an agent (protocol.ts): LaunchRequest and KillRequest. The
 * router checks them before the handlers; launch.ts then checks what a schema cannot (a task id
 * without `..`, health check fields by protocol) and fills defaults.
 */
import type { FromSchema } from '../common/index.js';

const NAMES = { type: 'object', maxProperties: 1000, additionalProperties: { type: 'string' } } as const;

export const launchSchema = {
  title: 'LaunchRequest',
  type: 'object',
  required: ['task'],
  properties: {
    task: {
      type: 'object',
      required: ['task_id', 'command'],
      properties: {
        task_id: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$' },
        name: { type: 'string', maxLength: 1024 },
        framework_id: { type: 'string', maxLength: 255 },
        agent_id: { type: 'string', maxLength: 255 },
        command: {
          type: 'object',
          required: ['value'],
          properties: { value: { type: 'string', minLength: 1 }, shell: { type: 'boolean' }, arguments: { type: 'array', items: { type: 'string' } } },
        },
        env: NAMES,
        ports: { type: 'array', maxItems: 1000, items: { type: 'integer', minimum: 1, maximum: 65535 } },
        labels: { type: 'array', maxItems: 1000, items: { type: 'object', required: ['key', 'value'], properties: { key: { type: 'string' }, value: { type: 'string' } } } },
        network: { type: 'object', required: ['name'], properties: { name: { type: 'string', minLength: 1, maxLength: 64 } } },
        kill_grace_period_ms: { type: 'number', minimum: 0 },
      },
    },
  },
} as const;

export const killSchema = {
  title: 'KillRequest',
  type: 'object',
  required: ['task_id'],
  properties: { task_id: { type: 'string', minLength: 1, maxLength: 255 }, grace_period_ms: { type: 'number', minimum: 0 } },
} as const;

export type LaunchBody = FromSchema<typeof launchSchema>;
export type KillBody = FromSchema<typeof killSchema>;
