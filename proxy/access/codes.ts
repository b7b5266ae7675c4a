/**
 * The three identifiers of an access request:
 *  - `areq_…` id: public; the human, the CLI, the dashboard and the audit log use it.
 *  - poll secret: ~190 bits, only the agent holds it (inside its poll_url); stored as SHA-256.
 *  - user code `WDJB-MJHT`: for the human to compare what the agent shows with what the
 *    sidecar shows. Not a secret. Letters from RFC 8628 §6.1's base-20 alphabet (no vowels,
 *    so no words; no 0/O or 1/I to mix up), 8 of them: 20^8 ≈ 2.6e10.
 */
import { createHash, randomInt, timingSafeEqual } from 'node:crypto';
import { randomBase62 } from '../tokens/format.js';

export const USER_CODE_ALPHABET = 'BCDFGHJKLMNPQRSTVWXZ';
const USER_CODE_SHAPE = /^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$/;
const REQUEST_ID_SHAPE = /^areq_[0-9A-Za-z]{20}$/;
const POLL_SECRET_SHAPE = /^[0-9A-Za-z]{32}$/;

export function newRequestId(): string {
  return `areq_${randomBase62(20)}`;
}

export function isRequestId(s: string): boolean {
  return REQUEST_ID_SHAPE.test(s);
}

export function newPollSecret(): string {
  return randomBase62(32);
}

export function isPollSecret(s: string): boolean {
  return POLL_SECRET_SHAPE.test(s);
}

export function hashPollSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

/** Constant-time comparison of a presented poll secret with the stored hash. */
export function pollSecretMatches(secret: string, storedHash: string): boolean {
  const a = Buffer.from(hashPollSecret(secret), 'hex');
  const b = Buffer.from(storedHash, 'hex');
  return a.length === b.length && timingSafeEqual(a, b);
}

export function newUserCode(): string {
  let s = '';
  for (let i = 0; i < 8; i++) s += USER_CODE_ALPHABET[randomInt(USER_CODE_ALPHABET.length)];
  return `${s.slice(0, 4)}-${s.slice(4)}`;
}

/** A code as a human may type it (`wdjb mjht`, `WDJBMJHT`) in its canonical form, or null. */
export function normalizeUserCode(input: string): string | null {
  const letters = input.toUpperCase().replace(/[\s-]/g, '');
  if (letters.length !== 8) return null;
  const code = `${letters.slice(0, 4)}-${letters.slice(4)}`;
  return USER_CODE_SHAPE.test(code) ? code : null;
}
