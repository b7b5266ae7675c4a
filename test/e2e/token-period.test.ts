/**
 * A token's page reports its budget in the token's own period (issue 22): a
 * daily token's card says "today" and resets each day, a prepaid one never
 * resets, and each shows the spend of its own window, not of the month. The
 * month's spend is seeded larger than the day's (and the prepaid total larger
 * than the month's), so a page reading the month would show other figures.
 */
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { windowOf, type BudgetPeriod } from '../../proxy/core/period.js';
import { ledgerStore } from '../../proxy/db/ledger-store.js';
import { scopesFromPreset } from '../../proxy/tokens/scopes.js';
import type { Stack } from '../helpers/stack.js';
import { useDashboard } from './browser.js';

let s: Stack;
let page: Page;

useDashboard((d) => ({ s, page } = d));

/** A token of `period` whose own window holds `ownMicros` while its month holds `monthMicros`. */
function seeded(name: string, period: BudgetPeriod, ownMicros: number, monthMicros: number) {
  const c = s.tokens.create({ name, scopes: scopesFromPreset('write'), budget: 10_000_000, budgetPeriod: period }, 'test');
  const store = ledgerStore(s.daemon.db);
  store.addSpend(c.token.id, windowOf(period, s.clock.now).key, ownMicros);
  store.addSpend(c.token.id, windowOf('month', s.clock.now).key, monthMicros);
  s.daemon.deps.principals.clear();
  return c.token;
}

async function budgetCard(id: string) {
  await page.goto(`${s.daemon.url}/?t=${id}#/token/${id}`);
  const spent = page.getByTestId('spend-with-children');
  await spent.waitFor();
  return { title: await page.locator('section.card', { has: spent }).getAttribute('aria-label'), spent: Number(await spent.getAttribute('data-usd')), reset: await page.getByTestId('budget-reset').innerText() };
}

describe("a token's page", () => {
  it('shows a daily budget as today\'s, resetting each day', async () => {
    const t = seeded('daily-agent', 'day', 1_250_000, 4_000_000);
    const card = await budgetCard(t.id);
    expect(card.title).toBe('Budget today');
    expect(card.spent).toBe(1.25);
    expect(card.reset).toContain('daily budget resets each day at 00:00 UTC, next at');
    expect(card.reset).not.toContain('month');
  });

  it('shows a prepaid budget as all-time spend that never resets', async () => {
    const t = seeded('prepaid-agent', 'total', 7_500_000, 2_000_000);
    const card = await budgetCard(t.id);
    expect(card.title).toBe('Prepaid budget');
    expect(card.spent).toBe(7.5);
    expect(card.reset).toContain('A prepaid budget never resets');
    expect(card.reset).not.toContain('month');
  });
});
