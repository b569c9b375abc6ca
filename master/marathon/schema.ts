/**
 * JSON Schemas of Marathon's AppDefinition (the fields Sextant supports; unknown fields Marathon
 * accepts stay accepted) and of an app update (PUT/PATCH: every field optional). Bounds come from
 * Limits; `x-bound` names the setting that changes one, and appears in the 422 message.
 * `AppDefinition` is the type of a body the schema accepts.
 */
import type { FromSchema } from '../../common/index.js';
import { DEFAULT_LIMITS, LIMIT_ENV, type Limits } from '../limits.js';

const PROTOCOL = { type: 'string', enum: ['tcp', 'udp', 'udp,tcp'] } as const;
const PORT = { type: 'integer', minimum: 0, maximum: 65535 } as const;
const PORT_NAME = { type: 'string', pattern: '^[a-z0-9-]+$', maxLength: 63 } as const;
const NETWORK_NAME = { type: 'string', minLength: 1, maxLength: 64 } as const;
const SECONDS = { type: 'number', minimum: 0 } as const;

function stringMap(l: Limits) {
  return {
    type: 'object',
    maxProperties: l.labelsPerMap,
    'x-bound': LIMIT_ENV.labelsPerMap,
    propertyNames: { type: 'string', minLength: 1, maxLength: l.labelKeyLength, 'x-bound': LIMIT_ENV.labelKeyLength },
    additionalProperties: { type: 'string', maxLength: l.labelValueLength, 'x-bound': LIMIT_ENV.labelValueLength },
  } as const;
}

function properties(l: Limits) {
  const labels = stringMap(l);
  return {
    id: { type: 'string', minLength: 1, maxLength: l.idLength, 'x-bound': LIMIT_ENV.idLength },
    cmd: { type: 'string', minLength: 1 },
    args: { type: 'array', items: { type: 'string' } },
    cpus: { type: 'number', minimum: 0 },
    mem: { type: 'number', minimum: 0 },
    disk: { type: 'number', minimum: 0 },
    instances: { type: 'integer', minimum: 0, maximum: l.instancesPerApp, 'x-bound': LIMIT_ENV.instancesPerApp },
    env: labels,
    labels,
    portDefinitions: {
      type: 'array',
      maxItems: l.portsPerApp,
      'x-bound': LIMIT_ENV.portsPerApp,
      items: {
        type: 'object',
        required: ['port'],
        properties: { port: PORT, protocol: PROTOCOL, name: PORT_NAME, labels },
      },
    },
    requirePorts: { type: 'boolean' },
    container: {
      type: 'object',
      properties: {
        type: { type: 'string', enum: ['MESOS'] },
        portMappings: {
          type: 'array',
          maxItems: l.portsPerApp,
          'x-bound': LIMIT_ENV.portsPerApp,
          items: {
            type: 'object',
            properties: { containerPort: PORT, hostPort: PORT, servicePort: PORT, protocol: PROTOCOL, name: PORT_NAME, labels },
          },
        },
      },
    },
    networks: {
      type: 'array',
      maxItems: 8,
      items: { type: 'object', properties: { mode: { type: 'string', enum: ['host', 'container', 'container/bridge'] }, name: NETWORK_NAME } },
    },
    ipAddress: {
      type: 'object',
      description: 'IP per task (Marathon 1.3 / DC/OS 1.8): the same as networks [{mode: container, name: networkName}] with discovery.ports as container.portMappings',
      properties: {
        networkName: NETWORK_NAME,
        groups: { type: 'array', maxItems: 16, items: { type: 'string' }, description: 'network security groups: only an empty list is supported' },
        labels,
        discovery: {
          type: 'object',
          properties: {
            ports: {
              type: 'array',
              maxItems: l.portsPerApp,
              'x-bound': LIMIT_ENV.portsPerApp,
              items: { type: 'object', required: ['number'], properties: { number: { type: 'integer', minimum: 1, maximum: 65535 }, name: PORT_NAME, protocol: PROTOCOL, labels } },
            },
          },
        },
      },
    },
    healthChecks: {
      type: 'array',
      maxItems: 16,
      items: {
        type: 'object',
        properties: {
          protocol: { type: 'string', enum: ['HTTP', 'HTTPS', 'TCP', 'COMMAND', 'MESOS_HTTP', 'MESOS_HTTPS', 'MESOS_TCP'] },
          path: { type: 'string' },
          portIndex: { type: 'integer', minimum: 0 },
          port: { type: 'integer', minimum: 1, maximum: 65535 },
          command: { type: 'object', properties: { value: { type: 'string' } } },
          intervalSeconds: SECONDS,
          timeoutSeconds: SECONDS,
          gracePeriodSeconds: SECONDS,
          maxConsecutiveFailures: { type: 'integer', minimum: 0 },
        },
      },
    },
    constraints: { type: 'array', maxItems: 64, items: { type: 'array', minItems: 2, maxItems: 3, items: { type: 'string' } } },
    backoffSeconds: SECONDS,
    backoffFactor: { type: 'number', minimum: 1 },
    maxLaunchDelaySeconds: SECONDS,
    taskKillGracePeriodSeconds: SECONDS,
    upgradeStrategy: {
      type: 'object',
      properties: { minimumHealthCapacity: { type: 'number', minimum: 0, maximum: 1 }, maximumOverCapacity: { type: 'number', minimum: 0, maximum: 1 } },
    },
  } as const;
}

/** POST /v2/apps. */
export function appDefinitionSchema(l: Limits = DEFAULT_LIMITS) {
  return { title: 'AppDefinition', type: 'object', required: ['id'], properties: properties(l) } as const;
}

/** PUT/PATCH /v2/apps/{id}: the fields to change (the id comes from the path). */
export function appUpdateSchema(l: Limits = DEFAULT_LIMITS) {
  return { title: 'AppUpdate', type: 'object', properties: properties(l) } as const;
}

export type AppDefinition = FromSchema<ReturnType<typeof appDefinitionSchema>>;
export type AppUpdate = FromSchema<ReturnType<typeof appUpdateSchema>>;

/** How deep groups may nest in one definition (the schema is unrolled to this depth). */
export const MAX_GROUP_DEPTH = 8;

function groupProperties(l: Limits, depth: number): Record<string, unknown> {
  const many = { maxItems: l.apps, 'x-bound': LIMIT_ENV.apps } as const;
  return {
    id: { type: 'string', minLength: 1, maxLength: l.idLength, 'x-bound': LIMIT_ENV.idLength, description: 'absolute, or relative to the parent group' },
    apps: { type: 'array', ...many, items: appDefinitionSchema(l), description: 'apps directly in the group (ids relative to it or absolute)' },
    groups:
      depth > 1
        ? { type: 'array', ...many, items: { type: 'object', required: ['id'], properties: groupProperties(l, depth - 1) } }
        : { type: 'array', maxItems: 0, description: `groups nest at most ${MAX_GROUP_DEPTH} deep` },
    dependencies: { type: 'array', maxItems: 64, items: { type: 'string', minLength: 1 }, description: 'accepted and checked as paths; apps start together regardless' },
  };
}

/** POST /v2/groups: a group definition, `{id, apps, groups, dependencies}`. */
export function groupSchema(l: Limits = DEFAULT_LIMITS): Record<string, unknown> {
  return { title: 'Group', type: 'object', required: ['id'], properties: groupProperties(l, MAX_GROUP_DEPTH) };
}

/** PUT /v2/groups/{id}: `{scaleBy}` or a new definition (apps and groups given replace the current ones). */
export function groupUpdateSchema(l: Limits = DEFAULT_LIMITS): Record<string, unknown> {
  return {
    title: 'GroupUpdate',
    type: 'object',
    properties: { ...groupProperties(l, MAX_GROUP_DEPTH), scaleBy: { type: 'number', minimum: 0, description: 'multiply the instances of every app in the group (rounded up)' } },
  };
}

