/**
 * Admin edits TokenStore has no method for: renaming, changing scopes and
 * changing expiry, each within the delegation rules, audited and bumping the
 * `tokens` generation in the same transaction, like the store's own changes.
 *
 * Narrowing a token's scopes narrows its whole subtree too (authorization
 * only looks at a token's own scopes, so a child must never keep one its
 * parent lost), the way revoking a token revokes its subtree.
 */
import { forbidden } from '../core/errors.js';
import type { DB } from '../db/database.js';
import { audit, bumpGeneration } from '../db/records.js';
import { earliestExpiry } from '../tokens/rules.js';
import { normalizeScopes, type Scope } from '../tokens/scopes.js';
import type { Token, TokenStore } from '../tokens/store.js';

export class TokenEditor {
  private readonly q;

  constructor(
    private readonly db: DB,
    private readonly tokens: TokenStore,
  ) {
    this.q = {
      name: db.prepare('UPDATE tokens SET name = ? WHERE id = ?'),
      scopes: db.prepare('UPDATE tokens SET scopes = ? WHERE id = ?'),
      expiry: db.prepare('UPDATE tokens SET expires_at = ? WHERE id = ?'),
    };
  }

  rename(token: Token, name: string, actor: string, now: number): void {
    this.q.name.run(name, token.id);
    audit(this.db, now, { actor, event: 'token.rename', tokenId: token.id, detail: { from: token.name, to: name } });
    bumpGeneration(this.db, 'tokens');
  }

  /** Sets scopes within the parent's; returns the descendants whose scopes were narrowed with it. */
  setScopes(token: Token, scopesIn: readonly Scope[], actor: string, now: number): string[] {
    const scopes = normalizeScopes(scopesIn);
    const parent = token.parentId ? this.tokens.require(token.parentId) : null;
    if (parent) {
      const missing = scopes.filter((s) => !parent.scopes.includes(s));
      if (missing.length) throw forbidden('scope_exceeds_parent', `a child's scopes must be a subset of its parent's; the parent ${parent.id} lacks ${missing.join(', ')}`);
    }
    this.q.scopes.run(scopes.join(' '), token.id);
    const narrowed: string[] = [];
    // Intersecting every descendant with the new set keeps each one within its (narrowed) parent.
    for (const d of this.tokens.subtree(token.id)) {
      if (d.id === token.id) continue;
      const kept = d.scopes.filter((s) => scopes.includes(s));
      if (kept.length !== d.scopes.length) {
        this.q.scopes.run(kept.join(' '), d.id);
        narrowed.push(d.id);
      }
    }
    audit(this.db, now, { actor, event: 'token.scopes', tokenId: token.id, detail: { from: token.scopes, to: scopes, narrowed } });
    bumpGeneration(this.db, 'tokens');
    return narrowed;
  }

  /** Sets (or with null, removes) the expiry; a child may not outlive any ancestor. */
  setExpiry(token: Token, expiresAt: number | null, actor: string, now: number): void {
    if (expiresAt !== null && expiresAt <= now) throw forbidden('invalid_expiry', 'the expiry must be in the future');
    const ancestors = this.tokens.chain(token.id).slice(1);
    const limit = earliestExpiry(ancestors);
    if (limit !== null && (expiresAt === null || expiresAt > limit)) {
      throw forbidden('expiry_exceeds_parent', `a child may not outlive its parent; it must expire by ${new Date(limit).toISOString()}`);
    }
    this.q.expiry.run(expiresAt, token.id);
    audit(this.db, now, { actor, event: 'token.expiry', tokenId: token.id, detail: { from: token.expiresAt, to: expiresAt } });
    bumpGeneration(this.db, 'tokens');
  }
}
