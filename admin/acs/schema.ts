/** Request bodies of the ACS API, one schema each (common/schema.ts); api.ts checks them before acting. */
import { compileSchema, type FromSchema } from '../../common/index.js';
import { UID_PATTERN } from './ids.js';

const password = { type: 'string', minLength: 8, maxLength: 1024 } as const;
const description = { type: 'string', maxLength: 1024 } as const;
/** An RSA public key in PEM (SPKI or PKCS#1); parsed for real in the store. */
const publicKey = { type: 'string', minLength: 64, maxLength: 16384, pattern: '-----BEGIN (RSA )?PUBLIC KEY-----' } as const;

export const LOGIN_SCHEMA = {
  type: 'object',
  required: ['uid'],
  additionalProperties: false,
  properties: {
    uid: { type: 'string', pattern: UID_PATTERN },
    password: { type: 'string', maxLength: 1024 },
    token: { type: 'string', maxLength: 16384 },
  },
  oneOf: [{ required: ['password'] }, { required: ['token'] }],
} as const;

export const USER_PUT_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  properties: { password, description, public_key: publicKey, provider_type: { type: 'string', enum: ['internal'] } },
  oneOf: [{ required: ['password'] }, { required: ['public_key'] }],
} as const;

export const USER_PATCH_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  minProperties: 1,
  properties: { password, description, public_key: publicKey },
} as const;

export const ACL_PUT_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  properties: { description },
} as const;

// The schemas' oneOf is beyond FromSchema: these two are written out.
export interface LoginBody {
  uid: string;
  password?: string;
  token?: string;
}
export interface UserPutBody {
  password?: string;
  description?: string;
  public_key?: string;
  provider_type?: 'internal';
}
export type UserPatchBody = FromSchema<typeof USER_PATCH_SCHEMA>;
export type AclPutBody = FromSchema<typeof ACL_PUT_SCHEMA>;

export const checkLogin = compileSchema<LoginBody>(LOGIN_SCHEMA);
export const checkUserPut = compileSchema<UserPutBody>(USER_PUT_SCHEMA);
export const checkUserPatch = compileSchema<UserPatchBody>(USER_PATCH_SCHEMA);
export const checkAclPut = compileSchema<AclPutBody>(ACL_PUT_SCHEMA);

/** Stored records (checked when loaded: a bad one is skipped and logged, never served). */
export const USER_RECORD_SCHEMA = {
  type: 'object',
  required: ['uid', 'kind', 'description', 'created'],
  properties: {
    uid: { type: 'string', pattern: UID_PATTERN },
    kind: { enum: ['user', 'service'] },
    description: { type: 'string' },
    created: { type: 'number' },
    password: {
      type: 'object',
      required: ['alg', 'N', 'r', 'p', 'salt', 'hash'],
      properties: { alg: { const: 'scrypt' }, N: { type: 'integer' }, r: { type: 'integer' }, p: { type: 'integer' }, salt: { type: 'string' }, hash: { type: 'string' } },
    },
    public_key: { type: 'string' },
  },
} as const;

export const ACL_RECORD_SCHEMA = {
  type: 'object',
  required: ['rid', 'description', 'users'],
  properties: {
    rid: { type: 'string' },
    description: { type: 'string' },
    users: { type: 'object', additionalProperties: { type: 'array', items: { enum: ['full', 'read', 'update', 'delete'] } } },
  },
} as const;

export const SIGNING_KEY_SCHEMA = {
  type: 'object',
  required: ['kid', 'private_pem', 'public_pem', 'created'],
  properties: { kid: { type: 'string' }, private_pem: { type: 'string' }, public_pem: { type: 'string' }, created: { type: 'number' } },
} as const;

export const checkUserRecord = compileSchema<FromSchema<typeof USER_RECORD_SCHEMA>>(USER_RECORD_SCHEMA);
export const checkAclRecord = compileSchema<FromSchema<typeof ACL_RECORD_SCHEMA>>(ACL_RECORD_SCHEMA);
export const checkSigningKey = compileSchema<FromSchema<typeof SIGNING_KEY_SCHEMA>>(SIGNING_KEY_SCHEMA);
