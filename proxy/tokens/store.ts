/**
 * Local tokens in SQLite: create, look up by secret hash, rotate, revoke a
 * subtree, change limits. Secrets are returned once from create/rotate and
 * stored only as SHA-256 hashes. Every change is audited in the same
 * transaction and bumps the `tokens` generation so a running daemon reloads.
 */
import type { DB } from '../db/database.js';
import { audit, bumpGeneration } from '../db/records.js';
import { badRequest, forbidden, notFound } from '../core/errors.js';
import { isPrintable, PRINTABLE_MESSAGE } from '../core/text.js';
import type { Clock } from '../core/time.js';
import { DAY_MS } from '../core/time.js';
import { generateTokenSecret, hashToken, newTokenId } from './format.js';
import { checkChildRules, childModels } from './rules.js';
import { normalizeScopes, type Scope } from './scopes.js';
import type { Token, TokenMeta } from './token.js';
import { DEFAULT_PERIOD, type BudgetPeriod } from '../core/period.js';

export type { Token, TokenHold, TokenMeta } from './token.js';

export const DEFAULT_GRACE_MS = 7 * DAY_MS;

interface TokenRow {
  id: string;
  name: string;
  parent_id: string | null;
  depth: number;
  scopes: string;
  monthly_budget: number | null;
  budget_period: BudgetPeriod;
  topped_up: number;
  hold_above: number | null;
  hold_rate: number | null;
  hold_state: 'held' | 'denied' | null;
  held_at: number | null;
  held_reason: string | null;
  hold_version: number;
  hold_waived_period: string | null;
  rpm: number | null;
  max_concurrent: number | null;
  expires_at: number | null;
  created_at: number;
  revoked_at: number | null;
  revoked_reason: string | null;
  upstream_key_id: string | null;
  models: string | null;
  meta: string;
}

export interface SecretRow {
  hash: string;
  token_id: string;
  created_at: number;
  superseded_at: number | null;
  grace_until: number | null;
}

export interface CreateTokenInput {
  name: string;
  scopes: readonly Scope[];
  budget?: number | null;
  budgetPeriod?: BudgetPeriod;
  holdAbove?: number | null;
  holdRate?: number | null;
  expiresAt?: number | null;
  parentId?: string | null;
  rpm?: number | null;
  maxConcurrent?: number | null;
  /** Model patterns, already parsed (wire/allowlist.ts); null/omitted: every model, or a restricted parent's list. */
  models?: readonly string[] | null;
  meta?: TokenMeta;
}

export interface Created {
  token: Token;
  secret: string;
}

function fromRow(r: TokenRow): Token {
  return {
    id: r.id,
    name: r.name,
    parentId: r.parent_id,
    depth: r.depth,
    scopes: r.scopes ? (r.scopes.split(' ') as Scope[]) : [],
    budget: r.monthly_budget,
    budgetPeriod: r.budget_period,
    toppedUp: r.topped_up,
    holdAbove: r.hold_above,
    holdRate: r.hold_rate,
    hold: r.hold_state ? { state: r.hold_state, since: r.held_at ?? 0, reason: r.held_reason ?? '' } : null,
    holdVersion: r.hold_version,
    holdWaivedPeriod: r.hold_waived_period,
    rpm: r.rpm,
    maxConcurrent: r.max_concurrent,
    expiresAt: r.expires_at,
    createdAt: r.created_at,
    revokedAt: r.revoked_at,
    revokedReason: r.revoked_reason,
    upstreamKeyId: r.upstream_key_id,
    models: r.models === null ? null : (JSON.parse(r.models) as string[]),
    meta: JSON.parse(r.meta) as TokenMeta,
  };
}

export class TokenStore {
  private readonly q;

  constructor(
    private readonly db: DB,
    private readonly clock: Clock,
  ) {
    this.q = {
      get: db.prepare('SELECT * FROM tokens WHERE id = ?'),
      list: db.prepare('SELECT * FROM tokens ORDER BY created_at, id'),
      insert: db.prepare(`INSERT INTO tokens (id, name, parent_id, depth, scopes, monthly_budget, budget_period, hold_above, hold_rate, rpm, max_concurrent, expires_at, created_at, models, meta)
        VALUES (@id, @name, @parent_id, @depth, @scopes, @monthly_budget, @budget_period, @hold_above, @hold_rate, @rpm, @max_concurrent, @expires_at, @created_at, @models, @meta)`),
      insertSecret: db.prepare('INSERT INTO token_secrets (hash, token_id, created_at) VALUES (?, ?, ?)'),
      secretByHash: db.prepare('SELECT * FROM token_secrets WHERE hash = ?'),
      currentSecret: db.prepare('SELECT * FROM token_secrets WHERE token_id = ? AND superseded_at IS NULL'),
      supersede: db.prepare('UPDATE token_secrets SET superseded_at = ?, grace_until = ? WHERE token_id = ? AND superseded_at IS NULL'),
      subtree: db.prepare(`WITH RECURSIVE sub(id) AS (SELECT id FROM tokens WHERE id = ? UNION ALL SELECT t.id FROM tokens t JOIN sub ON t.parent_id = sub.id)
        SELECT tokens.* FROM tokens JOIN sub USING (id)`),
      revoke: db.prepare('UPDATE tokens SET revoked_at = ?, revoked_reason = ? WHERE id = ? AND revoked_at IS NULL'),
      setBudget: db.prepare('UPDATE tokens SET monthly_budget = ?, budget_period = ? WHERE id = ?'),
      setLimits: db.prepare('UPDATE tokens SET rpm = ?, max_concurrent = ? WHERE id = ?'),
      setMeta: db.prepare('UPDATE tokens SET meta = ? WHERE id = ?'),
      setModels: db.prepare('UPDATE tokens SET models = ? WHERE id = ?'),
    };
  }

  get(id: string): Token | undefined {
    const r = this.q.get.get(id) as TokenRow | undefined;
    return r ? fromRow(r) : undefined;
  }

  /** The token or a 404 naming it. */
  require(id: string): Token {
    const t = this.get(id);
    if (!t) throw notFound('token_not_found', `no token with id ${id}`);
    return t;
  }

  list(): Token[] {
    return (this.q.list.all() as TokenRow[]).map(fromRow);
  }

  /** The token followed by its ancestors up to the root. */
  chain(id: string): Token[] {
    const out: Token[] = [];
    let cur = this.get(id);
    while (cur) {
      out.push(cur);
      cur = cur.parentId ? this.get(cur.parentId) : undefined;
    }
    return out;
  }

  /** The token and all its descendants. */
  subtree(id: string): Token[] {
    return (this.q.subtree.all(id) as TokenRow[]).map(fromRow);
  }

  findSecret(hash: string): SecretRow | undefined {
    return this.q.secretByHash.get(hash) as SecretRow | undefined;
  }

  currentSecret(tokenId: string): SecretRow | undefined {
    return this.q.currentSecret.get(tokenId) as SecretRow | undefined;
  }

  create(input: CreateTokenInput, actor: string): Created {
    const now = this.clock();
    const name = input.name.trim();
    if (!name) throw forbidden('invalid_name', 'a token needs a name');
    // Every path that names a token ends here (agent API, admin API, CLI, approved access requests).
    if (!isPrintable(name)) throw badRequest('invalid_name', `The token name ${PRINTABLE_MESSAGE}.`, { name: PRINTABLE_MESSAGE });
    const scopes = normalizeScopes(input.scopes);
    const budget = input.budget ?? null;
    const expiresAt = input.expiresAt ?? null;
    if (expiresAt !== null && expiresAt <= now) throw forbidden('invalid_expiry', 'the expiry must be in the future');
    return this.db
      .transaction((): Created => {
        let depth = 0;
        let models = input.models ? [...input.models] : null;
        if (input.parentId) {
          const chain = this.chain(input.parentId);
          const parent = chain[0];
          if (!parent) throw notFound('token_not_found', `no parent token with id ${input.parentId}`);
          if (parent.revokedAt !== null) throw forbidden('parent_revoked', `parent ${parent.id} is revoked`);
          checkChildRules(chain, { scopes, budget, expiresAt, models });
          models = childModels(chain, models);
          depth = parent.depth + 1;
        }
        const id = newTokenId();
        const secret = generateTokenSecret();
        this.q.insert.run({
          id,
          name,
          parent_id: input.parentId ?? null,
          depth,
          scopes: scopes.join(' '),
          monthly_budget: budget,
          budget_period: input.budgetPeriod ?? DEFAULT_PERIOD,
          hold_above: input.holdAbove ?? null,
          hold_rate: input.holdRate ?? null,
          rpm: input.rpm ?? null,
          max_concurrent: input.maxConcurrent ?? null,
          expires_at: expiresAt,
          created_at: now,
          models: models === null ? null : JSON.stringify(models),
          meta: JSON.stringify(input.meta ?? {}),
        });
        this.q.insertSecret.run(hashToken(secret), id, now);
        audit(this.db, now, {
          actor,
          event: 'token.create',
          tokenId: id,
          detail: { name, scopes, monthly_budget_micros: budget, budget_period: input.budgetPeriod ?? DEFAULT_PERIOD, hold_above_micros: input.holdAbove ?? null, hold_rate_micros: input.holdRate ?? null, expires_at: expiresAt, parent_id: input.parentId ?? null, models },
        });
        bumpGeneration(this.db, 'tokens');
        return { token: this.require(id), secret };
      })
      .immediate();
  }

  /** A new secret for the same token; the old one works for ordinary calls until the grace ends. */
  rotate(id: string, graceMs: number, actor: string): { token: Token; secret: string; oldSecretExpiresAt: number } {
    const now = this.clock();
    return this.db
      .transaction(() => {
        const token = this.require(id);
        if (token.revokedAt !== null) throw forbidden('token_revoked', `token ${id} is revoked and cannot be rotated`);
        const graceUntil = now + graceMs;
        this.q.supersede.run(now, graceUntil, id);
        const secret = generateTokenSecret();
        this.q.insertSecret.run(hashToken(secret), id, now);
        audit(this.db, now, { actor, event: 'token.rotate', tokenId: id, detail: { old_secret_expires_at: graceUntil } });
        bumpGeneration(this.db, 'tokens');
        return { token, secret, oldSecretExpiresAt: graceUntil };
      })
      .immediate();
  }

  /** Revokes the token and every descendant; returns the ids newly revoked. */
  revoke(id: string, actor: string, reason = 'revoked'): string[] {
    const now = this.clock();
    return this.db
      .transaction(() => {
        this.require(id);
        const revoked: string[] = [];
        for (const t of this.subtree(id)) {
          if (this.q.revoke.run(now, reason, t.id).changes > 0) revoked.push(t.id);
        }
        audit(this.db, now, { actor, event: 'token.revoke', tokenId: id, detail: { reason, revoked } });
        bumpGeneration(this.db, 'tokens');
        return revoked;
      })
      .immediate();
  }

  /** Sets (or with null, removes) a token's own budget, within its parent's; `period` changes what it is per. */
  setBudget(id: string, budget: number | null, actor: string, period?: BudgetPeriod): Token {
    const now = this.clock();
    return this.db
      .transaction(() => {
        const chain = this.chain(id);
        const token = chain[0];
        if (!token) throw notFound('token_not_found', `no token with id ${id}`);
        checkChildRules(chain.slice(1), { scopes: token.scopes, budget, expiresAt: token.expiresAt });
        this.q.setBudget.run(budget, period ?? token.budgetPeriod, id);
        audit(this.db, now, { actor, event: 'token.budget', tokenId: id, detail: { from_micros: token.budget, to_micros: budget, period: period ?? token.budgetPeriod } });
        bumpGeneration(this.db, 'tokens');
        return this.require(id);
      })
      .immediate();
  }

  setLimits(id: string, limits: { rpm: number | null; maxConcurrent: number | null }, actor: string): Token {
    const now = this.clock();
    return this.db
      .transaction(() => {
        this.require(id);
        this.q.setLimits.run(limits.rpm, limits.maxConcurrent, id);
        audit(this.db, now, { actor, event: 'token.limits', tokenId: id, detail: { rpm: limits.rpm, max_concurrent: limits.maxConcurrent } });
        bumpGeneration(this.db, 'tokens');
        return this.require(id);
      })
      .immediate();
  }

  /**
   * Sets (or with null, removes) a token's model list, within its ancestors' (a child set to null under a
   * restricted parent gets the parent's list). Its children's lists are not rewritten: every request is
   * checked against the whole chain, so a narrower parent narrows them at once.
   */
  setModels(id: string, models: readonly string[] | null, actor: string): Token {
    const now = this.clock();
    return this.db
      .transaction(() => {
        const chain = this.chain(id);
        const token = chain[0];
        if (!token) throw notFound('token_not_found', `no token with id ${id}`);
        const ancestors = chain.slice(1);
        checkChildRules(ancestors, { scopes: token.scopes, budget: token.budget, expiresAt: token.expiresAt, models });
        const next = ancestors.length > 0 ? childModels(ancestors, models) : models === null ? null : [...models];
        this.q.setModels.run(next === null ? null : JSON.stringify(next), id);
        audit(this.db, now, { actor, event: 'token.models', tokenId: id, detail: { from: token.models, to: next } });
        bumpGeneration(this.db, 'tokens');
        return this.require(id);
      })
      .immediate();
  }

  setMeta(id: string, meta: TokenMeta): void {
    this.q.setMeta.run(JSON.stringify(meta), id);
    bumpGeneration(this.db, 'tokens');
  }
}

/** Parses `never`, `30d`/`90d`/`365d` (any N d), or an ISO date into an absolute expiry. */
export function parseExpiry(input: string | undefined, now: number): number | null {
  if (input === undefined || input === 'never') return null;
  const days = /^(\d+)d$/.exec(input);
  if (days) return now + Number(days[1]) * DAY_MS;
  const t = Date.parse(input);
  if (Number.isNaN(t)) throw new Error(`expiry ${JSON.stringify(input)} is not never, a number of days (30d) or a date (2027-01-31)`);
  return t;
}
