/**
 * JSON Schemas of the overlay admin API bodies: a virtual network (`POST /v1/networks`) and an
 * isolation rule or network default (`POST/DELETE /v1/networks/isolation`). The router checks them
 * before the handlers run; config.ts then checks what a schema cannot (overlaps, known networks).
 */
import type { FromSchema } from '../common/index.js';

const CIDR = { type: 'string', minLength: 3, maxLength: 43 } as const;

export const networkSchema = {
  title: 'VirtualNetwork',
  type: 'object',
  required: ['name', 'subnet'],
  additionalProperties: false,
  properties: {
    // Its length (13: the bridge m-<name> is an interface name) is checked by parseNetwork, which says why.
    name: { type: 'string', minLength: 1, pattern: '^[a-zA-Z0-9][a-zA-Z0-9_-]*$' },
    subnet: CIDR,
    prefix: { type: 'integer', minimum: 1, maximum: 30 },
    mtu: { type: 'integer', minimum: 576, maximum: 9000 },
    subnet6: CIDR,
    prefix6: { type: 'integer', minimum: 1, maximum: 126 },
  },
} as const;

const ENDPOINT = { type: 'string', minLength: 1, maxLength: 64 } as const;

export const ruleSchema = {
  title: 'IsolationRule',
  type: 'object',
  required: ['from', 'to'],
  additionalProperties: false,
  properties: {
    from: ENDPOINT,
    to: ENDPOINT,
    ports: { type: 'array', minItems: 1, maxItems: 64, items: { anyOf: [{ type: 'integer', minimum: 1, maximum: 65535 }, { type: 'string', pattern: '^[0-9]{1,5}(-[0-9]{1,5})?$' }] } },
    protocol: { type: 'string', enum: ['tcp', 'udp', ''] },
    action: { type: 'string', enum: ['allow'] },
  },
} as const;

export const policySchema = {
  title: 'NetworkPolicy',
  type: 'object',
  required: ['network', 'default'],
  additionalProperties: false,
  properties: { network: { type: 'string', minLength: 1, maxLength: 13 }, default: { type: 'string', enum: ['allow', 'deny'] } },
} as const;

/** POST /v1/networks/isolation: a body with `default` is a policy, any other a rule. */
export const isolationSchema = { title: 'IsolationChange', type: 'object', if: { required: ['default'] }, then: policySchema, else: ruleSchema } as const;

export type NetworkBody = FromSchema<typeof networkSchema>;
export type RuleBody = FromSchema<typeof ruleSchema>;
export type PolicyBody = FromSchema<typeof policySchema>;
