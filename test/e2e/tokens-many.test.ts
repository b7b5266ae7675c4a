/**
 * The Tokens page with 10,000 tokens (issue 26): it shows one page of them,
 * finds one by its name and by its id, finds the one on hold with the
 * filter, sorts by spend, and pages on. (How fast it answers is measured by
 * bench/tokens-page.ts, not timed here.)
 */
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { insertTokens, manyTokenId } from '../helpers/db.js';
import type { Stack } from '../helpers/stack.js';
import { useDashboard } from './browser.js';

let s: Stack;
let page: Page;

useDashboard((d) => ({ s, page } = d));

const rows = () => page.locator('table.tokens tbody tr');
const count = () => page.getByTestId('token-count');

describe('the Tokens page with 10,000 tokens', () => {
  it('shows a page of them, finds one by search and by filter, and pages on', async () => {
    insertTokens(s.daemon.db, 10_000);
    const held = manyTokenId(4321);
    s.daemon.db.prepare("UPDATE tokens SET hold_state = 'held', held_at = ?, held_reason = 'a test hold' WHERE id = ?").run(Date.now(), held);

    await page.goto(`${s.daemon.url}/?many=1#/tokens`);
    await expect.poll(() => count().textContent(), { timeout: 20_000 }).toBe('1–50 of 10,000');
    expect(await rows().count()).toBe(50);

    const search = page.getByRole('searchbox', { name: 'Search tokens by name or id' });
    await search.fill('many-agent-7777');
    await expect.poll(() => rows().count(), { timeout: 20_000 }).toBe(1);
    await page.locator('table.tokens').getByRole('link', { name: 'many-agent-7777', exact: true }).waitFor();
    expect(await count().textContent()).toBe('1–1 of 1 matching (10,000 tokens in all)');

    await search.fill(manyTokenId(9001));
    await expect.poll(() => page.locator('table.tokens tbody tr').first().getAttribute('data-token-id'), { timeout: 20_000 }).toBe(manyTokenId(9001));
    expect(await rows().count()).toBe(1);

    await search.fill('');
    await page.getByRole('checkbox', { name: 'On hold' }).check();
    await expect.poll(() => rows().count(), { timeout: 20_000 }).toBe(1);
    expect(await rows().first().getAttribute('data-token-id')).toBe(held);
    await page.getByRole('checkbox', { name: 'On hold' }).uncheck();

    await page.getByRole('checkbox', { name: 'Has children' }).check();
    await expect.poll(() => count().textContent(), { timeout: 20_000 }).toBe('1–50 of 1,000 matching (10,000 tokens in all)');
    await page.getByRole('button', { name: 'Next' }).click();
    await expect.poll(() => count().textContent(), { timeout: 20_000 }).toBe('51–100 of 1,000 matching (10,000 tokens in all)');
    // Roots only, in order: the 51st root is many-agent-501.
    expect(await rows().first().getAttribute('data-token-id')).toBe(manyTokenId(501));
  }, 120_000);
});
