import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { encryptedFileKeyStore, ENCRYPTED_KEY_FILE } from '../../../proxy/keychain/encrypted-file.js';
import { selectKeyStore } from '../../../proxy/keychain/select.js';
import { KeyStoreUnavailable } from '../../../proxy/keychain/store.js';
import { tempDir } from '../../helpers/stack.js';
import { rmSync } from 'node:fs';

const dirs: string[] = [];
afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));
const dir = () => {
  const d = tempDir('sbs-enc-');
  dirs.push(d);
  return d;
};

describe('encrypted-file key store', () => {
  const key = 'sk-live-0123456789abcdefGHIJ';

  it('round-trips the key, owner-only, with no plaintext on disk', () => {
    const d = dir();
    const store = encryptedFileKeyStore(d, 'correct horse battery staple');
    expect(store.get()).toBeNull();
    store.set(key);
    const file = join(d, ENCRYPTED_KEY_FILE);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const raw = readFileSync(file, 'utf8');
    expect(raw).not.toContain(key);
    expect(raw).not.toContain(key.slice(-8));
    expect(JSON.parse(raw)).toMatchObject({ v: 1, kdf: 'scrypt' });
    expect(encryptedFileKeyStore(d, 'correct horse battery staple').get()).toBe(key);
    expect(store.remove()).toBe(true);
    expect(store.get()).toBeNull();
  });

  it('refuses a wrong or missing passphrase, and a tampered file, without revealing anything', () => {
    const d = dir();
    encryptedFileKeyStore(d, 'right').set(key);
    expect(() => encryptedFileKeyStore(d, 'wrong').get()).toThrow(KeyStoreUnavailable);
    expect(() => encryptedFileKeyStore(d, undefined).get()).toThrow(/SKILLBOSS_SIDECAR_KEY_PASSPHRASE/);
    const file = join(d, ENCRYPTED_KEY_FILE);
    const sealed = JSON.parse(readFileSync(file, 'utf8')) as { ct: string };
    const ct = Buffer.from(sealed.ct, 'base64');
    ct[0] = ct[0]! ^ 1;
    writeFileSync(file, JSON.stringify({ ...sealed, ct: ct.toString('base64') }));
    expect(() => encryptedFileKeyStore(d, 'right').get()).toThrow(/wrong passphrase|damaged/);
  });

  it('is only ever chosen explicitly', () => {
    const d = dir();
    expect(selectKeyStore(d, undefined, {}).kind).toBe('os-keychain');
    expect(selectKeyStore(d, 'encrypted-file', { SKILLBOSS_SIDECAR_KEY_PASSPHRASE: 'x' }).kind).toBe('encrypted-file');
    expect(() => selectKeyStore(d, 'plaintext', {})).toThrow(/not a key store/);
  });
});
