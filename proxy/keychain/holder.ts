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

  /**
   * Replaces every occurrence of the real key in `text` (an upstream error body that echoed it), in
   * whatever form it was written: each character literal or escaped (`\u002d`, `\\u002D`, `\/`, `%2D`,
   * `&#x2d;`), the whole key or its part after `sk-` (issue 25 item 8: the relay used to redact the raw
   * text and then decode it, so an escaped key came out in clear).
   */
  redact(text: string): string {
    if (!this.key) return text;
    if (this.pattern?.key !== this.key) this.pattern = { key: this.key, re: keyPattern(this.key) };
    this.pattern.re.lastIndex = 0;
    return text.replace(this.pattern.re, maskKey(this.key));
  }

  /** A parsed JSON value with every string in it (keys included) redacted, decoded first so no escape hides the key. */
  redactValue(value: unknown): unknown {
    if (typeof value === 'string') return this.redact(value);
    if (Array.isArray(value)) return value.map((v) => this.redactValue(v));
    if (value && typeof value === 'object') {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value)) out[this.redact(k)] = this.redactValue(v);
      return out;
    }
    return value;
  }

  private pattern: { key: string; re: RegExp } | null = null;
}

/** One character of the key in every form a JSON, URL or HTML writer may give it. */
function charForms(c: string): string {
  const code = c.codePointAt(0)!;
  const hex = code.toString(16).padStart(4, '0');
  const anyCase = (h: string) => [...h].map((d) => (/[a-f]/.test(d) ? `[${d}${d.toUpperCase()}]` : d)).join('');
  const literal = c.replace(/[\\^$.*+?()[\]{}|/-]/g, '\\$&');
  const forms = [literal, `\\\\+${literal}`, `\\\\+u${anyCase(hex)}`, `&#0*${code};`, `&#[xX]0*${anyCase(code.toString(16))};`];
  if (code < 0x100) forms.push(`%${anyCase(code.toString(16).padStart(2, '0'))}`);
  return `(?:${forms.join('|')})`;
}

function keyPattern(key: string): RegExp {
  const of = (s: string) => [...s].map(charForms).join('');
  const body = key.startsWith('sk-') && key.length > 11 ? key.slice(3) : null;
  return new RegExp(body ? `${of(key)}|${of(body)}` : of(key), 'g');
}
