/**
 * Which key store a process uses. The OS keychain unless the human opted in
 * to the encrypted file with SKILLBOSS_SIDECAR_KEY_STORE=encrypted-file (or
 * `--key-store encrypted-file`); an unknown value is an error, never a fallback.
 */
import { encryptedFileKeyStore, PASSPHRASE_ENV } from './encrypted-file.js';
import { osKeychain, type KeyStore } from './store.js';
import { envSetting } from '../core/env.js';

export const KEY_STORE_ENV = 'SKILLBOSS_SIDECAR_KEY_STORE';

export function selectKeyStore(dataDir: string, choice: string | undefined = envSetting(KEY_STORE_ENV), env: NodeJS.ProcessEnv = process.env): KeyStore {
  switch (choice ?? 'os-keychain') {
    case 'os-keychain':
    case 'keychain':
      return osKeychain(dataDir);
    case 'encrypted-file':
      return encryptedFileKeyStore(dataDir, envSetting(PASSPHRASE_ENV, env));
    default:
      throw new Error(`${KEY_STORE_ENV}=${choice} is not a key store; use os-keychain (default) or encrypted-file (with ${PASSPHRASE_ENV})`);
  }
}
