/**
 * The per-agent secret of the master <-> agent protocol (contracts/protocol.ts), until mutual TLS
 * replaces it: 32 random bytes issued by the master at registration, sent by the agent on every
 * later call as `Authorization: Sextant-Agent <agent_id>:<secret>`. The master keeps only the
 * SHA-256 of the secret; comparisons are constant-time. The agent proves it holds the secret when
 * the master calls it back (`/api/v1/ping`) with an HMAC of the master's nonce keyed by that hash.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export const AGENT_AUTH_SCHEME = 'Sextant-Agent';

/** A new secret: 32 random bytes, base64url (43 characters). */
export function newAgentSecret(): string {
  return randomBytes(32).toString('base64url');
}

/** What the master stores: hex SHA-256 of the secret. */
export function hashAgentSecret(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

/** The header value an agent sends. */
export function agentAuthorization(agentId: string, secret: string): string {
  return `${AGENT_AUTH_SCHEME} ${agentId}:${secret}`;
}

export type ParsedAgentAuth = { agentId: string; secret: string } | { error: 'missing' | 'malformed' };

/** Parse `Sextant-Agent <id>:<secret>` (the id may not contain ':'; the secret is base64url). */
export function parseAgentAuthorization(header: string | string[] | undefined): ParsedAgentAuth {
  if (header === undefined || header === '') return { error: 'missing' };
  if (Array.isArray(header)) return { error: 'malformed' };
  const m = /^Sextant-Agent ([^:\s]{1,255}):([A-Za-z0-9_-]{16,128})$/.exec(header.trim());
  if (!m) return { error: header.startsWith(`${AGENT_AUTH_SCHEME} `) ? 'malformed' : 'missing' };
  return { agentId: m[1]!, secret: m[2]! };
}

/** Constant-time: does `secret` hash to `storedHash`? */
export function agentSecretMatches(secret: string, storedHash: string): boolean {
  const a = Buffer.from(hashAgentSecret(secret), 'hex');
  const b = Buffer.from(storedHash, 'hex');
  return a.length === b.length && timingSafeEqual(a, b);
}

/** The agent's answer to the master's nonce: hex HMAC-SHA256(key = SHA-256 of the secret, nonce). */
export function agentProof(secretHash: string, nonce: string): string {
  return createHmac('sha256', Buffer.from(secretHash, 'hex')).update(nonce, 'utf8').digest('hex');
}

/** Constant-time comparison of two proofs (hex). */
export function proofMatches(a: string, b: string): boolean {
  const x = Buffer.from(a, 'utf8');
  const y = Buffer.from(b, 'utf8');
  return x.length === y.length && timingSafeEqual(x, y);
}
