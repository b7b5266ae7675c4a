/**
 * The explicit opt-in for machines without an OS keychain (a headless Linux
 * box with no Secret Service): the real key encrypted with AES-256-GCM in the
 * data dir, the encryption key derived with scrypt from a passphrase that only
 * ever comes from the environment. Never chosen silently: see `selectKeyStore`.
 */
import { createCipheriv, createDecipheriv, randomBytes, scryptSync } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../core/fs.js';
import { KeyStoreUnavailable, type KeyStore } from './store.js';

export const ENCRYPTED_KEY_FILE = 'upstream-key.enc';
export const PASSPHRASE_ENV = 'SKILLBOSS_SIDECAR_KEY_PASSPHRASE';

/** scrypt cost: ~100 ms and 32 MiB here; paid once at start and on `key set`. */
const SCRYPT = { N: 2 ** 15, r: 8, p: 1, maxmem: 64 * 1024 * 1024 } as const;

interface Sealed {
  v: 1;
  kdf: 'scrypt';
  N: number;
  r: number;
  p: number;
  salt: string;
  iv: string;
  tag: string;
  ct: string;
}

function derive(passphrase: string, salt: Buffer, p: { N: number; r: number; p: number }): Buffer {
  return scryptSync(passphrase, salt, 32, { N: p.N, r: p.r, p: p.p, maxmem: SCRYPT.maxmem });
}

export function seal(plaintext: string, passphrase: string): Sealed {
  const salt = randomBytes(16);
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', derive(passphrase, salt, SCRYPT), iv);
  const ct = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return { v: 1, kdf: 'scrypt', N: SCRYPT.N, r: SCRYPT.r, p: SCRYPT.p, salt: salt.toString('base64'), iv: iv.toString('base64'), tag: cipher.getAuthTag().toString('base64'), ct: ct.toString('base64') };
}

export function unseal(s: Sealed, passphrase: string): string {
  if (s.v !== 1 || s.kdf !== 'scrypt') throw new Error('unknown key file format');
  const decipher = createDecipheriv('aes-256-gcm', derive(passphrase, Buffer.from(s.salt, 'base64'), s), Buffer.from(s.iv, 'base64'));
  decipher.setAuthTag(Buffer.from(s.tag, 'base64'));
  return Buffer.concat([decipher.update(Buffer.from(s.ct, 'base64')), decipher.final()]).toString('utf8');
}

export function encryptedFileKeyStore(dataDir: string, passphrase: string | undefined): KeyStore {
  const path = join(dataDir, ENCRYPTED_KEY_FILE);
  const need = (): string => {
    if (!passphrase) {
      throw new KeyStoreUnavailable(`the encrypted-file key store needs its passphrase in the environment variable ${PASSPHRASE_ENV}`);
    }
    return passphrase;
  };
  return {
    kind: 'encrypted-file',
    get() {
      let raw: string;
      try {
        raw = readFileSync(path, 'utf8');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
        throw new KeyStoreUnavailable(`cannot read ${path}: ${(err as Error).message}`);
      }
      try {
        return unseal(JSON.parse(raw) as Sealed, need());
      } catch (err) {
        if (err instanceof KeyStoreUnavailable) throw err;
        throw new KeyStoreUnavailable(`cannot decrypt ${path}: wrong passphrase in ${PASSPHRASE_ENV}, or the file is damaged`);
      }
    },
    set(key) {
      const sealed = JSON.stringify(seal(key, need()));
      // `key set` may come before anything else has created the data dir (owner-only, as the database makes it).
      mkdirSync(dataDir, { recursive: true, mode: 0o700 });
      writeFileAtomic(path, sealed);
    },
    remove() {
      try {
        rmSync(path);
        return true;
      } catch {
        return false;
      }
    },
  };
}
