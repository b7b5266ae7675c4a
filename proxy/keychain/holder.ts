/**
 * The real key in memory: read from the key store at start and again whenever
 * the CLI signals a change. `current()` is what the forwarding stage asks for;
 * when there is no usable key it throws the 503 the agent should see.
 *
 * A keychain that becomes unreadable (locked mid-run) does not take the key
 * already in memory away: agents keep working and the status says what is
 * wrong. While no key could be read, `current()` tries the store again at
 * most every few seconds, so unlocking the keychain is enough to recover.
 */
import { unavailable } from '../core/errors.js';
import { KeyStoreUnavailable, maskKey, type KeyStore } from './store.js';

export type KeyState = { state: 'set'; masked: string } | { state: 'missing' } | { state: 'unavailable'; reason: string };

const RETRY_UNAVAILABLE_MS = 5_000;

export class KeyHolder {
  private key: string | null = null;
  private problem: KeyState = { state: 'missing' };
  private lastTry = -Infinity;

  constructor(
    readonly store: KeyStore,
    private readonly monotonic: () => number = () => performance.now(),
  ) {}

  /** Re-reads the store. Never throws: a store failure becomes the state agents are told about. */
  reload(): KeyState {
    this.lastTry = this.monotonic();
    try {
      this.key = this.store.get();
      this.problem = this.key ? { state: 'set', masked: maskKey(this.key) } : { state: 'missing' };
    } catch (err) {
      // The key already in memory stays in use: a locked keychain must not cut every agent off.
      this.problem = { state: 'unavailable', reason: err instanceof KeyStoreUnavailable ? err.message : String(err) };
    }
    return this.problem;
  }

  status(): KeyState {
    return this.problem;
  }

  current(): string {
    if (this.key) return this.key;
    if (this.problem.state === 'unavailable' && this.monotonic() - this.lastTry >= RETRY_UNAVAILABLE_MS && this.reload().state === 'set') return this.key!;
    if (this.problem.state === 'unavailable') {
      const locked = this.problem.reason.includes('keychain is locked');
      throw unavailable(
        'keychain_unavailable',
        `The sidecar cannot read its upstream key from the OS keychain${locked ? ', which is locked' : ''}, so it cannot forward requests. The human running the sidecar must ${locked ? 'unlock it (nothing is lost; requests work again within seconds)' : 'fix the keychain (skillboss-sidecar doctor)'}.`,
        locked ? 5 : 30,
      );
    }
    throw unavailable('upstream_key_missing', 'The sidecar has no SkillBoss API key yet. The human running it must run `skillboss-sidecar key set` once; no agent restart is needed after that.', 30);
  }

  /** Replaces every occurrence of the real key in `text` (an upstream error body that echoed it). */
  redact(text: string): string {
    if (!this.key || !text.includes(this.key)) return text;
    return text.split(this.key).join(maskKey(this.key));
  }
}
