/**
 * Spend control in the dashboard, in real Chromium against the real daemon
 * and simulator: a token the daemon put on hold shows in a banner and with a
 * badge, is approved from the banner; forecasts show for every token; the
 * budget dialog changes the period and tops up a prepaid budget.
 */
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { scopesFromPreset } from '../../proxy/tokens/scopes.js';
import type { CreateTokenInput } from '../../proxy/tokens/store.js';
import type { Stack } from '../helpers/stack.js';
import { screenshot, useDashboard } from './browser.js';

// page.evaluate callbacks run in the browser; the test project has no DOM lib.
declare const window: { localStorage: { getItem(k: string): string | null } };

let s: Stack;
let page: Page;

useDashboard((d) => ({ s, page } = d));

function token(name: string, input: Partial<CreateTokenInput> = {}) {
  const c = s.tokens.create({ name, scopes: scopesFromPreset('write'), ...input }, 'test');
  s.daemon.deps.principals.clear();
  return c;
}

const chat = (secret: string) =>
  fetch(`${s.baseURL}/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hello' }], max_tokens: 20 }),
  });

describe('token classes', () => {
  it('marks a request whose prompt was partly cached in the requests list', async () => {
    const t = token('cache-user');
    const long = Array.from({ length: 400 }, (_, i) => `Rule ${i}: answer briefly.`).join(' ');
    const body = JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'system', content: long }, { role: 'user', content: 'go' }] });
    for (let i = 0; i < 2; i++) {
      const r = await fetch(`${s.baseURL}/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${t.secret}`, 'content-type': 'application/json' }, body });
      expect(r.status).toBe(200);
    }
    await page.goto(`${s.daemon.url}/#/requests`);
    const cell = page.locator('td[data-cached]:not([data-cached="0"])').first();
    await cell.waitFor();
    expect(Number(await cell.getAttribute('data-cached'))).toBeGreaterThanOrEqual(1024);
    expect(await cell.getAttribute('title')).toContain('cached, charged at the cached rate');
    expect(await cell.innerText()).toMatch(/\*$/);
  });
});

describe('held tokens and forecasts', () => {
  it('shows a held token in a banner and a badge, approves it from the banner, and shows forecasts', async () => {
    const spender = token('steady-spender', { budget: 5_000_000 });
    expect((await chat(spender.secret)).status).toBe(200);
    const runaway = token('runaway-agent', { holdAbove: 1 });
    const refused = await chat(runaway.secret);
    expect(refused.status).toBe(402);
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('spend_approval_required');

    await page.goto(`${s.daemon.url}/#/tokens`);
    const banner = page.locator(`[data-held-token="${runaway.token.id}"]`);
    await banner.waitFor();
    expect(await banner.innerText()).toContain('runaway-agent is on hold');
    await page.locator(`tr[data-token-id="${runaway.token.id}"] [data-hold="held"]`).waitFor();
    const cell = page.locator(`[data-forecast="${spender.token.id}"]`);
    expect(await cell.isVisible()).toBe(true);
    expect(await cell.innerText()).toMatch(/^\$[\d.]+\/h → \$[\d.]+ by [A-Z][a-z]{2} \d+/);
    expect(await cell.getAttribute('title')).toMatch(/per hour on average this month; .* at that rate; lasts the period/);
    await screenshot(page, 'tokens-held');

    await page.getByLabel('New hold threshold for runaway-agent').fill('1');
    await page.getByRole('button', { name: 'Approve runaway-agent' }).click();
    await banner.waitFor({ state: 'detached' });
    expect(s.daemon.db.prepare('SELECT hold_state, hold_above FROM tokens WHERE id = ?').get(runaway.token.id)).toEqual({ hold_state: null, hold_above: 1_000_000 });
    expect((await chat(runaway.secret)).status).toBe(200);
  });

  it('changes the budget period and tops up a prepaid budget from the budget dialog', async () => {
    const t = token('prepaid-agent', { budget: 1_000_000, budgetPeriod: 'total' });
    await page.goto(`${s.daemon.url}/#/tokens`);
    await page.getByRole('button', { name: 'Budget and holds of prepaid-agent' }).click();
    await page.getByLabel('Top up').fill('2.5');
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByRole('dialog').waitFor({ state: 'detached' });
    expect(s.daemon.db.prepare('SELECT monthly_budget, topped_up, budget_period FROM tokens WHERE id = ?').get(t.token.id)).toEqual({ monthly_budget: 3_500_000, topped_up: 2_500_000, budget_period: 'total' });

    await page.getByRole('button', { name: 'Budget and holds of prepaid-agent' }).click();
    await page.getByLabel('Budget period').selectOption('day');
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByRole('dialog').waitFor({ state: 'detached' });
    expect(s.daemon.db.prepare('SELECT budget_period FROM tokens WHERE id = ?').pluck().get(t.token.id)).toBe('day');
    await page.locator(`[data-forecast="${t.token.id}"][title*="today"]`).waitFor();
  });

  it('creates a daily-budget token with holds from the New token dialog; the admin API shows the period and thresholds', async () => {
    await page.goto(`${s.daemon.url}/#/tokens`);
    await page.getByRole('button', { name: 'New token' }).click();
    const dialog = page.getByRole('dialog', { name: 'New token' });
    await dialog.getByLabel('Name').fill('daily-held-agent');
    expect(await dialog.getByLabel('Budget period').inputValue()).toBe('month');
    await dialog.getByLabel('Budget period').selectOption('day');
    await dialog.getByLabel('Daily budget (USD)').fill('3');
    await dialog.getByLabel('Hold for my approval above (USD per period)').fill('0');
    await dialog.getByRole('button', { name: 'Create token' }).click();
    // 0 is refused at the field (a hold needs a threshold above 0); nothing is created.
    await dialog.getByText('must be more than 0 (empty: never)').waitFor();
    expect(s.tokens.list().some((t) => t.name === 'daily-held-agent')).toBe(false);
    await dialog.getByLabel('Hold for my approval above (USD per period)').fill('1.25');
    await dialog.getByLabel('Hold for my approval above (USD per hour)').fill('0.5');
    await dialog.getByRole('button', { name: 'Create token' }).click();
    const shown = page.getByRole('dialog', { name: 'Token daily-held-agent created' });
    await shown.waitFor();
    await shown.getByRole('button', { name: /^Done/ }).click();

    const id = s.tokens.list().find((t) => t.name === 'daily-held-agent')!.id;
    const view = await page.evaluate(async (tokenId) => {
      const r = await fetch(`/admin/api/tokens/${tokenId}`, { headers: { 'x-sidecar-session': window.localStorage.getItem('sbs-session') ?? '' } });
      return { status: r.status, body: (await r.json()) as Record<string, unknown> };
    }, id);
    expect(view.status).toBe(200);
    expect(view.body).toMatchObject({ budget_period: 'day', monthly_budget_usd: 3, hold_above_usd: 1.25, hold_rate_usd: 0.5 });
    await page.locator(`[data-forecast="${id}"][title*="today"]`).waitFor();
  });
});
