/**
 * Local token format: `sk-sbl-` + 32 base62 characters of randomness (~190 bits)
 * + a 6-character base62 CRC32 of everything before it.
 *
 * Like GitHub's token format, the prefix makes a leaked token recognisable to
 * secret scanners and the checksum lets the daemon refuse a mistyped or forged
 * token before any lookup. Tokens are stored only as their SHA-256.
 */
import { hash, randomBytes } from 'node:crypto';

export const TOKEN_PREFIX = 'sk-sbl-';
const BODY_LENGTH = 32;
const CHECKSUM_LENGTH = 6;
export const TOKEN_LENGTH = TOKEN_PREFIX.length + BODY_LENGTH + CHECKSUM_LENGTH;
const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
/** One regex that finds local token secrets anywhere (logs, files, output). */
export const TOKEN_PATTERN = /sk-sbl-[0-9A-Za-z]{38}/g;
const SHAPE = /^sk-sbl-[0-9A-Za-z]{38}$/;

/** Uniform base62 string from the CSPRNG (rejection sampling, no modulo bias). */
export function randomBase62(length: number): string {
  let out = '';
  while (out.length < length) {
    for (const byte of randomBytes(length * 2)) {
      if (byte < 248) out += ALPHABET[byte % 62];
      if (out.length === length) break;
    }
  }
  return out;
}

// CRC-32 (IEEE, as zlib's crc32 of the UTF-8 bytes) in a few lines here: node:zlib (and the streams under it)
// would otherwise load at every start for this one function (issue 27 item 4).
let crcTable: Int32Array | null = null;
function crc32(s: string): number {
  if (!crcTable) {
    crcTable = new Int32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c;
    }
  }
  let c = -1;
  for (const byte of Buffer.from(s, 'utf8')) c = crcTable[(c ^ byte) & 0xff]! ^ (c >>> 8);
  return (c ^ -1) >>> 0;
}

function checksum(payload: string): string {
  let n = crc32(payload) >>> 0;
  let s = '';
  for (let i = 0; i < CHECKSUM_LENGTH; i++) {
    s = ALPHABET[n % 62] + s;
    n = Math.floor(n / 62);
  }
  return s;
}

export function generateTokenSecret(): string {
  const payload = TOKEN_PREFIX + randomBase62(BODY_LENGTH);
  return payload + checksum(payload);
}

/** True when the string has the token's shape and a valid checksum. No lookup, constant work. */
export function isWellFormedToken(s: string): boolean {
  if (s.length !== TOKEN_LENGTH || !SHAPE.test(s)) return false;
  return checksum(s.slice(0, -CHECKSUM_LENGTH)) === s.slice(-CHECKSUM_LENGTH);
}

export function hashToken(secret: string): string {
  // The one-shot form: no Hash object per request (every authenticated request hashes its token).
  return hash('sha256', secret, 'hex');
}

export function newTokenId(): string {
  return `tok_${randomBase62(16)}`;
}

/** What may be shown of a secret: its prefix and last four characters. */
export function maskSecret(secret: string): string {
  return `${secret.startsWith(TOKEN_PREFIX) ? TOKEN_PREFIX : secret.slice(0, 3)}…${secret.slice(-4)}`;
}
