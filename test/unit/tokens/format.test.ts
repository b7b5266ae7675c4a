import { crc32 } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { generateTokenSecret, hashToken, isWellFormedToken, maskSecret, TOKEN_LENGTH, TOKEN_PATTERN } from '../../../proxy/tokens/format.js';

describe('token format', () => {
  it('generates well-formed, unique tokens that the scanner pattern finds', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 2000; i++) {
      const t = generateTokenSecret();
      expect(t).toHaveLength(TOKEN_LENGTH);
      expect(isWellFormedToken(t)).toBe(true);
      seen.add(t);
    }
    expect(seen.size).toBe(2000);
    const t = generateTokenSecret();
    expect(`log line with ${t} inside`.match(TOKEN_PATTERN)).toEqual([t]);
  });

  it('refuses any single-character change through the checksum', () => {
    const t = generateTokenSecret();
    let refused = 0;
    for (let i = 7; i < t.length; i++) {
      const c = t[i] === 'x' ? 'y' : 'x';
      if (!isWellFormedToken(t.slice(0, i) + c + t.slice(i + 1))) refused++;
    }
    expect(refused).toBe(t.length - 7);
  });

  it('refuses wrong prefixes, lengths and characters', () => {
    const t = generateTokenSecret();
    for (const bad of ['', 'sk-sbl-', t.slice(1), `${t}a`, t.replace('sk-sbl-', 'sk-abc-'), t.slice(0, -1) + '\0', t.replace(/.$/, 'é'), "sk-sbl-' OR 1=1 --"]) {
      expect(isWellFormedToken(bad), bad).toBe(false);
    }
  });

  it('hashes with SHA-256 and masks to prefix and last four', () => {
    const t = generateTokenSecret();
    expect(hashToken(t)).toMatch(/^[0-9a-f]{64}$/);
    expect(hashToken(t)).not.toBe(hashToken(generateTokenSecret()));
    expect(maskSecret(t)).toBe(`sk-sbl-…${t.slice(-4)}`);
  });
  it('checks tokens issued before its own CRC-32 replaced zlib\'s: the same checksum for every payload', () => {
    // The checksum as it was computed with node:zlib's crc32 (base62, 6 characters, most significant first).
    const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
    const zlibChecksum = (payload: string) => {
      let n = crc32(payload) >>> 0;
      let out = '';
      for (let i = 0; i < 6; i++) {
        out = ALPHABET[n % 62]! + out;
        n = Math.floor(n / 62);
      }
      return out;
    };
    for (let i = 0; i < 2000; i++) {
      const t = generateTokenSecret();
      const payload = t.slice(0, -6);
      expect(t.slice(-6)).toBe(zlibChecksum(payload));
      expect(isWellFormedToken(payload + zlibChecksum(payload))).toBe(true);
    }
  });
});
