/**
 * Named secrets the lifecycle needs besides the real key: per-token webhook
 * signing secrets, and the previous and pending real keys during an upstream
 * rotation. They live where the real key lives — the OS keychain, one entry
 * per secret, the account derived from the data dir like the real key's — so
 * SQLite only ever holds the entry's name. Beside the opt-in encrypted-file
 * key store they are encrypted files sealed the same way; beside an in-memory
 * key store (the demo) they are in memory too.
 */
import { createHash } from 'node:crypto';
import { readFileSync, realpathSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { APP_NAME } from '../core/config.js';
import { writeFileAtomic } from '../core/fs.js';
import { PASSPHRASE_ENV, seal, unseal } from './encrypted-file.js';
import { KEYCHAIN_HELP, KeyStoreUnavailable, keyringEntry, type KeyStoreKind } from './store.js';
import { envSetting } from '../core/env.js';

export interface SecretVault {
  readonly kind: KeyStoreKind;
  /** The secret, or null when none is stored. Throws KeyStoreUnavailable when the store cannot be read. */
  get(name: string): string | null;
  set(name: string, secret: string): void;
  /** True when something was removed. */
  remove(name: string): boolean;
}

/** Vault names: what each entry holds. */
export const VAULT = {
  previousKey: 'upstream-key-previous',
  pendingKey: 'upstream-key-pending',
  webhookSecret: (tokenId: string) => `webhook-secret:${tokenId}`,
} as const;

function dirHash(dataDir: string): string {
  let dir = dataDir;
  try {
    dir = realpathSync(dataDir);
  } catch {
    /* not created yet */
  }
  return createHash('sha256').update(dir).digest('hex').slice(0, 16);
}

/** The keychain account for a vault name: `<name>@<data dir hash>`, so two data dirs never share an entry. */
export function vaultAccount(dataDir: string, name: string): string {
  return `${name}@${dirHash(dataDir)}`;
}

function unavailable(err: unknown): KeyStoreUnavailable {
  return new KeyStoreUnavailable(`the OS keychain is unavailable (${err instanceof Error ? err.message : String(err)}). ${KEYCHAIN_HELP}`);
}

export function keychainVault(dataDir: string): SecretVault {
  // Same pinning as the real key's entry: Secret Service only, never the kernel keyring that forgets at reboot.
  const entry = (name: string) => {
    try {
      return new (keyringEntry())(APP_NAME, vaultAccount(dataDir, name), { linux: { store: 'secret-service' } });
    } catch (err) {
      throw unavailable(err);
    }
  };
  return {
    kind: 'os-keychain',
    get(name) {
      try {
        return entry(name).getPassword() ?? null;
      } catch (err) {
        throw err instanceof KeyStoreUnavailable ? err : unavailable(err);
      }
    },
    set(name, secret) {
      try {
        entry(name).setPassword(secret);
      } catch (err) {
        throw err instanceof KeyStoreUnavailable ? err : unavailable(err);
      }
    },
    remove(name) {
      try {
        return entry(name).deletePassword();
      } catch (err) {
        throw err instanceof KeyStoreUnavailable ? err : unavailable(err);
      }
    },
  };
}

export function memoryVault(): SecretVault {
  const m = new Map<string, string>();
  return {
    kind: 'memory',
    get: (name) => m.get(name) ?? null,
    set(name, secret) {
      m.set(name, secret);
    },
    remove: (name) => m.delete(name),
  };
}

/** Files `vault-<name>.enc` in the data dir, each sealed like the encrypted-file key store (AES-256-GCM, scrypt). */
export function encryptedFileVault(dataDir: string, passphrase: string | undefined): SecretVault {
  const pathOf = (name: string) => join(dataDir, `vault-${name.replace(/[^A-Za-z0-9_-]/g, '-')}.enc`);
  const need = (): string => {
    if (!passphrase) throw new KeyStoreUnavailable(`the encrypted-file key store needs its passphrase in the environment variable ${PASSPHRASE_ENV}`);
    return passphrase;
  };
  return {
    kind: 'encrypted-file',
    get(name) {
      let raw: string;
      try {
        raw = readFileSync(pathOf(name), 'utf8');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
        throw new KeyStoreUnavailable(`cannot read ${pathOf(name)}: ${(err as Error).message}`);
      }
      try {
        return unseal(JSON.parse(raw) as Parameters<typeof unseal>[0], need());
      } catch (err) {
        if (err instanceof KeyStoreUnavailable) throw err;
        throw new KeyStoreUnavailable(`cannot decrypt ${pathOf(name)}: wrong passphrase in ${PASSPHRASE_ENV}, or the file is damaged`);
      }
    },
    set(name, secret) {
      const path = pathOf(name);
      writeFileAtomic(path, JSON.stringify(seal(secret, need())));
    },
    remove(name) {
      try {
        rmSync(pathOf(name));
        return true;
      } catch {
        return false;
      }
    },
  };
}

/** The vault that goes with a key store: the keychain beside the keychain, sealed files beside the sealed file, memory beside memory. */
export function vaultFor(kind: KeyStoreKind, dataDir: string, env: NodeJS.ProcessEnv = process.env): SecretVault {
  if (kind === 'memory') return memoryVault();
  if (kind === 'encrypted-file') return encryptedFileVault(dataDir, envSetting(PASSPHRASE_ENV, env));
  return keychainVault(dataDir);
}
