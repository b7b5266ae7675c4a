/**
 * The delegation rules, as pure functions: a child never has more than its
 * parent (scopes, budget, lifetime), and the tree has a depth limit.
 * Violations are 403s whose message names the rule.
 */
import { listAllows, outsideOf } from '../../wire/allowlist.js';
import { forbidden } from '../core/errors.js';
import type { Scope } from './scopes.js';
import type { Token } from './token.js';

export const MAX_DEPTH = 5;

export interface ChildRequest {
  scopes: readonly Scope[];
  budget: number | null;
  expiresAt: number | null;
  /** Omitted: not being changed (a budget edit). */
  models?: readonly string[] | null;
}

/** `chain` is the parent first, then its ancestors up to the root. */
export function checkChildRules(chain: readonly Token[], child: ChildRequest): void {
  const parent = chain[0];
  if (!parent) return;
  if (parent.depth + 1 > MAX_DEPTH) {
    throw forbidden('depth_limit', `a token may have at most ${MAX_DEPTH} levels of ancestors; ${parent.id} is already at depth ${parent.depth}`);
  }
  const missing = child.scopes.filter((s) => !parent.scopes.includes(s));
  if (missing.length > 0) {
    throw forbidden('scope_exceeds_parent', `a child's scopes must be a subset of its parent's; the parent lacks ${missing.join(', ')}`);
  }
  const ceiling = tightestBudget(chain);
  // A child without a budget of its own is still held by every ancestor's budget at reservation time.
  if (ceiling !== null && child.budget !== null && child.budget > ceiling.micros) {
    throw forbidden('budget_exceeds_parent', `a child's budget (${child.budget / 1e6} USD) may not exceed its parent's (${ceiling.micros / 1e6} USD, ${ceiling.tokenId})`);
  }
  const parentExpiry = earliestExpiry(chain);
  if (parentExpiry !== null && (child.expiresAt === null || child.expiresAt > parentExpiry)) {
    throw forbidden('expiry_exceeds_parent', `a child may not outlive its parent; it must expire by ${new Date(parentExpiry).toISOString()}`);
  }
  if (child.models !== undefined) {
    for (const t of chain) {
      if (t.models === null) continue;
      if (child.models === null) continue; // inherits (childModels), so within by construction
      const outside = outsideOf(child.models, t.models);
      if (outside.length > 0) {
        throw forbidden(
          'models_exceed_parent',
          `a child's models must be within its parent's; ${outside.join(', ')} ${outside.length === 1 ? 'is' : 'are'} outside ${t.id === parent.id ? 'the parent' : `the ancestor ${t.id}`}'s list (${t.models.join(', ')})`,
        );
      }
    }
  }
}

/** What a child asking for `models` gets: its own list, or with none under a restricted parent, the nearest restricted ancestor's. */
export function childModels(chain: readonly Token[], models: readonly string[] | null | undefined): string[] | null {
  if (models) return [...models];
  const restricted = chain.find((t) => t.models !== null);
  return restricted?.models ? [...restricted.models] : null;
}

/** The first token of the chain whose list does not allow `model` (null: every list allows it, or none has one). */
export function refusingModelList(chain: readonly Token[], model: string): Token | null {
  for (const t of chain) if (t.models !== null && !listAllows(t.models, model)) return t;
  return null;
}

export function tightestBudget(chain: readonly Token[]): { tokenId: string; micros: number } | null {
  let best: { tokenId: string; micros: number } | null = null;
  for (const t of chain) {
    if (t.budget !== null && (best === null || t.budget < best.micros)) best = { tokenId: t.id, micros: t.budget };
  }
  return best;
}

export function earliestExpiry(chain: readonly Token[]): number | null {
  let best: number | null = null;
  for (const t of chain) if (t.expiresAt !== null && (best === null || t.expiresAt < best)) best = t.expiresAt;
  return best;
}
