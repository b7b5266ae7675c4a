/**
 * Budget periods and holds in the budget stage, over a real SQLite file and
 * an explicit clock: windows roll per period, children roll up into parents
 * of any period, a hold trips on the exact reservation that would cross,
 * survives a restart (a new Budgets on the same file), is lifted by an
 * approval from another connection, and a rate hold forgets the hour before.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SidecarEvents } from '../../../proxy/core/events.js';
import type { LedgerRow } from '../../../proxy/core/ledger.js';
import { openDatabase, type DB } from '../../../proxy/db/database.js';
import type { Budgets, Reservation } from '../../../proxy/pipeline/budget.js';
import { createBudgets } from '../../../proxy/server/deps.js';
import { decideHold } from '../../../proxy/spend/holds.js';
import { scopesFromPreset } from '../../../proxy/tokens/scopes.js';
import { TokenStore, type CreateTokenInput, type Token } from '../../../proxy/tokens/store.js';
import { refusal } from '../../helpers/refusal.js';

const T0 = Date.UTC(2031, 0, 15, 12);

let dir: string;
let db: DB;
let tokens: TokenStore;
let budgets: Budgets;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'sbs-spend-'));
  db = openDatabase(dir);
  tokens = new TokenStore(db, () => T0);
  budgets = createBudgets(db, new SidecarEvents());
});
afterEach(() => {
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

const make = (input: Partial<CreateTokenInput> = {}): Token => tokens.create({ name: 't', scopes: scopesFromPreset('write'), ...input }, 'test').token;
let seq = 0;
function row(tokenId: string, cost: number, ts: number): LedgerRow {
  return { ts, request_id: `r${++seq}`, token_id: tokenId, method: 'POST', route: '/v1/chat/completions', model: 'm', prompt_tokens: 1, completion_tokens: 1, cached_tokens: 0, cache_write_tokens: 0, reasoning_tokens: 0, cost_micros: cost, status: 200, latency_ms: 1, streamed: 0, usage_source: 'upstream', cost_source: 'price', error_code: null, error_message: null };
}
async function spend(chain: Token[], micros: number, now: number): Promise<void> {
  const r = budgets.reserve(chain, micros, now);
  await budgets.record(r, chain, row(chain[0]!.id, micros, now));
}

describe('periods', () => {
  it('a daily budget refuses until the next UTC day; its monthly parent keeps counting', async () => {
    const parent = make({ budget: 10_000 });
    const child = make({ budget: 1_000, budgetPeriod: 'day', parentId: parent.id });
    const chain = tokens.chain(child.id);
    await spend(chain, 800, T0);
    const e = refusal(() => budgets.reserve(chain, 300, T0));
    expect(e.code).toBe('budget_exhausted');
    expect(e.message).toContain('daily budget');
    expect(e.message).toContain('It resets at 2031-01-16T00:00:00.000Z');
    const nextDay = Date.UTC(2031, 0, 16);
    await spend(chain, 800, nextDay);
    expect(budgets.periodSpent(tokens.get(child.id)!, nextDay)).toBe(800);
    expect(budgets.spent(parent.id, nextDay)).toBe(1_600);
    expect(budgets.spent(child.id, nextDay)).toBe(1_600); // the month of a daily token, for the views of the month
  });

  it('a total budget carries over months and across a restart', async () => {
    const t = make({ budget: 1_000, budgetPeriod: 'total' });
    await spend([t], 700, T0);
    const later = Date.UTC(2031, 5, 1);
    const again = createBudgets(db, new SidecarEvents());
    const e = refusal(() => again.reserve([t], 400, later));
    expect(e.message).toContain('prepaid and does not reset');
    expect(again.remaining([t], later)).toMatchObject({ remainingMicros: 300, period: 'total', resetsAt: null });
  });
});

describe('holds', () => {
  it('trips on the reservation that would cross, with in-flight reservations counted, and refuses everything after', () => {
    const t = make({ holdAbove: 1_000 });
    const held: Reservation[] = [];
    for (let i = 0; i < 3; i++) held.push(budgets.reserve([t], 300, T0)); // 900 in flight
    const e = refusal(() => budgets.reserve([t], 101, T0));
    expect(e).toMatchObject({ status: 402, code: 'spend_approval_required' });
    // Even a request that would fit is refused now: the token is on hold.
    expect(refusal(() => budgets.reserve([t], 1, T0)).code).toBe('spend_approval_required');
    expect(db.prepare('SELECT hold_state FROM tokens WHERE id = ?').pluck().get(t.id)).toBe('held');
    for (const r of held) budgets.release(r);
  });

  it('survives a restart, and an approval from another connection lifts it', () => {
    const t = make({ holdAbove: 100 });
    refusal(() => budgets.reserve([t], 200, T0));
    const restarted = createBudgets(db, new SidecarEvents());
    const stored = tokens.get(t.id)!;
    expect(refusal(() => restarted.reserve([stored], 1, T0)).code).toBe('spend_approval_required');
    // The daemon's snapshot of the token is the one from before the trip: its memory still holds it.
    expect(refusal(() => budgets.reserve([t], 1, T0)).code).toBe('spend_approval_required');

    const cli = openDatabase(dir);
    decideHold(cli, new TokenStore(cli, () => T0), t.id, 'approved', 'cli', T0, { holdAbove: 1_000 });
    cli.close();
    const fresh = tokens.get(t.id)!;
    expect(fresh).toMatchObject({ hold: null, holdAbove: 1_000 });
    expect(budgets.reserve([fresh], 900, T0).micros).toBe(900);
  });

  it('a rate hold counts the rolling hour, and after approval forgets spend before it', async () => {
    const t = make({ holdRate: 1_000 });
    await spend([t], 600, T0);
    await spend([t], 300, T0 + 10 * 60_000);
    expect(refusal(() => budgets.reserve([t], 200, T0 + 20 * 60_000)).message).toContain('in the last hour');
    decideHold(db, tokens, t.id, 'approved', 'admin', T0 + 21 * 60_000);
    const approved = tokens.get(t.id)!;
    expect(budgets.reserve([approved], 900, T0 + 22 * 60_000).micros).toBe(900);
  });

  it('denial keeps it held with a message not to retry; approval without a threshold waives it for the period only', () => {
    const t = make({ holdAbove: 100 });
    refusal(() => budgets.reserve([t], 200, T0));
    decideHold(db, tokens, t.id, 'denied', 'cli', T0);
    expect(refusal(() => budgets.reserve([tokens.get(t.id)!], 1, T0)).message).toContain('Do not retry');
    decideHold(db, tokens, t.id, 'approved', 'cli', T0);
    const waived = tokens.get(t.id)!;
    expect(waived.holdWaivedPeriod).toBe('2031-01');
    expect(budgets.reserve([waived], 5_000, T0).micros).toBe(5_000);
    expect(refusal(() => budgets.reserve([waived], 200, Date.UTC(2031, 1, 1))).code).toBe('spend_approval_required');
  });
});
