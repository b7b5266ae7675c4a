/**
 * Where the real SkillBoss key lives. The OS keychain (through
 * @napi-rs/keyring) is the default; the entry's account name is derived from
 * the data dir so two data dirs never share or clobber a key. The demo uses
 * an in-memory store. Nothing here ever writes the key anywhere else.
 */
import { createHash } from 'node:crypto';
import { realpathSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Entry } from '@napi-rs/keyring';
import { APP_NAME } from '../core/config.js';

export type KeyStoreKind = 'os-keychain' | 'encrypted-file' | 'memory';

export class KeyStoreUnavailable extends Error {
  override name = 'KeyStoreUnavailable';
}

export interface KeyStore {
  readonly kind: KeyStoreKind;
  /** The key, or null when none is set. Throws KeyStoreUnavailable when the store cannot be read. */
  get(): string | null;
  set(key: string): void;
  /** True when a key was removed. */
  remove(): boolean;
}

export function keychainAccount(dataDir: string): string {
  let dir = dataDir;
  try {
    dir = realpathSync(dataDir);
  } catch {
    /* not created yet: the resolved path is as stable as it gets */
  }
  return `upstream-key:${createHash('sha256').update(dir).digest('hex').slice(0, 16)}`;
}

export const KEYCHAIN_HELP =
  process.platform === 'linux'
    ? 'No Secret Service (OS keychain) is reachable. On a desktop, unlock your login keyring; on a headless box install gnome-keyring and dbus ' +
      '(apt-get install gnome-keyring dbus) and run the sidecar inside `dbus-run-session` with the keyring unlocked ' +
      '(echo -n "$PASSPHRASE" | gnome-keyring-daemon --unlock --components=secrets). ' +
      'Or opt in to the encrypted-file store: SKILLBOSS_SIDECAR_KEY_STORE=encrypted-file with the passphrase in SKILLBOSS_SIDECAR_KEY_PASSPHRASE.'
    : 'The OS keychain could not be reached; make sure it is unlocked and that this program may use it.';

export const KEYCHAIN_LOCKED_HELP =
  process.platform === 'linux'
    ? 'Unlock your login keyring (on a desktop: Passwords and Keys, or sign in again; headless: ' +
      'echo -n "$PASSPHRASE" | gnome-keyring-daemon --replace --unlock --components=secrets). The key is still in it; the sidecar picks it up again within seconds.'
    : 'Unlock the keychain; the key is still in it, and the sidecar picks it up again within seconds.';

function unavailable(err: unknown): KeyStoreUnavailable {
  const reason = err instanceof Error ? err.message : String(err);
  // A locked keyring answers with a prompt nobody can see (headless, or dismissed): a different fix from a missing one.
  if (/\block|unlock|prompt/i.test(reason)) return new KeyStoreUnavailable(`the OS keychain is locked (${reason}). ${KEYCHAIN_LOCKED_HELP}`);
  return new KeyStoreUnavailable(`the OS keychain is unavailable (${reason}). ${KEYCHAIN_HELP}`);
}

/**
 * The keyring library (a native module, ~20-30 ms to load) is loaded when a keychain entry is first opened: a
 * daemon whose key is in memory or in the encrypted file, and every command that never opens one, skip it.
 */
const requireHere = createRequire(import.meta.url);
let entryClass: typeof Entry | undefined;
export function keyringEntry(): typeof Entry {
  return (entryClass ??= (requireHere('@napi-rs/keyring') as { Entry: typeof Entry }).Entry);
}

export function osKeychain(dataDir: string): KeyStore {
  // Pinned to the Secret Service on Linux: the library's default silently falls back to the
  // kernel keyring, which forgets the key at reboot (the safeStorage precedent in the checklist).
  const account = keychainAccount(dataDir);
  const open = () => new (keyringEntry())(APP_NAME, account, { linux: { store: 'secret-service' } });
  let entry: Entry;
  try {
    entry = open();
  } catch (err) {
    const reason = unavailable(err);
    return {
      kind: 'os-keychain',
      get: () => { throw reason; },
      set: () => { throw reason; },
      remove: () => { throw reason; },
    };
  }
  // After a failure the entry is opened afresh: a keyring daemon restarted (or unlocked by being replaced) has
  // dropped the old entry's D-Bus session, and only a new one sees the keychain again.
  const use = <T>(fn: (e: Entry) => T): T => {
    try {
      return fn(entry);
    } catch {
      try {
        entry = open();
        return fn(entry);
      } catch (err) {
        throw unavailable(err);
      }
    }
  };
  return {
    kind: 'os-keychain',
    get: () => use((e) => e.getPassword() ?? null),
    set: (key) => use((e) => e.setPassword(key)),
    remove: () => use((e) => e.deletePassword()),
  };
}

export function memoryKeyStore(initial: string | null = null): KeyStore {
  let key = initial;
  return {
    kind: 'memory',
    get: () => key,
    set(k) {
      key = k;
    },
    remove() {
      const had = key !== null;
      key = null;
      return had;
    },
  };
}

/** `sk-…abcd`: all that is ever shown of the real key. */
export function maskKey(key: string): string {
  return `sk-…${key.slice(-4)}`;
}

/** The sidecar's own agent tokens: never the upstream key (the same prefix as tokens/format.ts, which sits above this layer). */
const AGENT_TOKEN_PREFIX = 'sk-sbl-';

/**
 * A plausible SkillBoss key: 16 to 512 printable characters, no whitespace or
 * control characters. The form is not judged by its prefix — SkillBoss issues
 * `sk-…`, `sk-sb-…`, `sk-tmp-…`, `sk_live_…`, `sk_skillboss_…` — but by asking
 * SkillBoss (`key set` checks it). Only the sidecar's own agent tokens are
 * refused here, since one of those can never be the upstream key.
 */
export function validateUpstreamKey(key: string): string {
  const k = key.trim();
  if (k.startsWith(AGENT_TOKEN_PREFIX)) {
    throw new Error(
      `that is a sidecar agent token (${AGENT_TOKEN_PREFIX}…), not a SkillBoss API key: the sidecar hands those out to agents. Paste the key from the SkillBoss console (API Keys) instead`,
    );
  }
  if (!/^[\x21-\x7e]{16,512}$/.test(k)) {
    throw new Error('that does not look like a SkillBoss API key (expected 16 to 512 characters without spaces or control characters, as the SkillBoss console shows it)');
  }
  return k;
}
