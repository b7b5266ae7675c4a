/**
 * Issue 19's views in real Chromium against the real daemon: a token's page
 * (charts, its own spend vs its subtree's, children, pause), the request
 * drawer showing the message a refused agent got, and chart range presets
 * that change the charts and stay in the URL.
 */
import OpenAI from 'openai';
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { DAY_MS } from '../../proxy/core/time.js';
import type { Stack } from '../helpers/stack.js';
import { useDashboard } from './browser.js';

// Callbacks given to page.evaluate run in the browser, where these exist; the test project has no DOM lib.
declare const window: any; // eslint-disable-line @typescript-eslint/no-explicit-any

let s: Stack;
let page: Page;

useDashboard((d) => ({ s, page } = d));

const chat = (key: string, content = 'hello views') => new OpenAI({ apiKey: key, baseURL: s.baseURL, maxRetries: 0 }).chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content }] });
const micros = (sql: string, ...args: unknown[]) => s.daemon.db.prepare(sql).pluck().get(...args) as number;
let loads = 0;
const go = (hash: string) => page.goto(`${s.daemon.url}/?load=${++loads}#/${hash}`);

describe('a token\'s page', () => {
  it('is reached from its name; shows its charts, own spend vs its subtree\'s, children and recent requests', async () => {
    const lead = s.token({ name: 'lead-agent', budgetUsd: 50 });
    const kid = s.token({ name: 'kid-agent', parentId: lead.token.id, budgetUsd: 5 });
    await chat(lead.secret);
    await chat(kid.secret);
    await chat(kid.secret, 'and again');

    await go('tokens');
    await page.getByRole('link', { name: 'lead-agent', exact: true }).first().click();
    await page.getByRole('heading', { name: 'lead-agent', level: 1 }).waitFor();
    expect(await page.evaluate(() => window.location.hash)).toBe(`#/token/${lead.token.id}`);

    const own = micros('SELECT sum(cost_micros) FROM usage WHERE token_id = ?', lead.token.id);
    const all = micros('SELECT spent_micros FROM spend WHERE token_id = ?', lead.token.id);
    expect(all).toBeGreaterThan(own);
    await expect.poll(async () => Number(await page.getByTestId('spend-own').getAttribute('data-usd'))).toBe(own / 1e6);
    expect(Number(await page.getByTestId('spend-with-children').getAttribute('data-usd'))).toBe(all / 1e6);
    await page.getByText('Including children', { exact: true }).waitFor();
    await page.getByText('Its own calls', { exact: true }).waitFor();

    const children = page.getByRole('region', { name: /^Children/ });
    await children.getByRole('link', { name: 'kid-agent' }).waitFor();
    await page.getByRole('region', { name: /^Spend per/ }).locator('svg rect').first().waitFor();
    await expect.poll(() => page.getByRole('region', { name: 'Recent requests' }).locator('tbody tr').count()).toBe(1);

    await children.getByRole('link', { name: 'kid-agent' }).click();
    await page.getByRole('heading', { name: 'kid-agent', level: 1 }).waitFor();
    await page.getByRole('navigation', { name: 'Breadcrumb' }).getByRole('link', { name: 'lead-agent' }).waitFor();
    await expect.poll(() => page.getByRole('region', { name: 'Recent requests' }).locator('tbody tr').count()).toBe(2);
  }, 60_000);

  it('pauses a token and its children from its page, and resumes them', async () => {
    const boss = s.token({ name: 'pausable' });
    const sub = s.token({ name: 'pausable-kid', parentId: boss.token.id });
    await go(`token/${boss.token.id}`);
    await page.getByRole('button', { name: 'Pause', exact: true }).click();
    await page.getByRole('button', { name: 'Resume', exact: true }).waitFor();
    for (const key of [boss.secret, sub.secret]) {
      const err = (await chat(key).catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
      expect(err.status).toBe(503);
      expect(err.code).toBe('token_paused');
    }
    await page.getByRole('button', { name: 'Resume', exact: true }).click();
    await page.getByRole('button', { name: 'Pause', exact: true }).waitFor();
    expect((await chat(sub.secret)).choices).toHaveLength(1);
  }, 60_000);
});

describe('the request drawer', () => {
  it('shows a 402 with its code in the row, and the full message the agent got', async () => {
    const poor = s.token({ name: 'poor-agent', budgetMicros: 1 });
    const err = (await chat(poor.secret).catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
    expect(err.status).toBe(402);
    const message = (err.error as { message: string }).message;
    expect(message.length).toBeGreaterThan(10);

    await go('requests');
    const row = page.locator('table.requests tbody tr', { hasText: 'poor-agent' }).first();
    await row.waitFor();
    expect(await row.locator('td.col-code').textContent()).toBe(`402${err.code}`);
    await row.getByRole('button', { name: /^Details of the request/ }).click();
    const drawer = page.getByRole('dialog', { name: 'Request gpt-4o-mini' });
    await drawer.waitFor();
    expect(await drawer.getByTestId('error-message').textContent()).toBe(message);
    const text = (await drawer.textContent())!;
    expect(text).toContain(String(err.code));
    expect(text).toContain('Streamedno');
    const id = micros('SELECT request_id FROM usage WHERE token_id = ?', poor.token.id) as unknown as string;
    expect(text).toContain(id);
    await page.keyboard.press('Escape');
    await drawer.waitFor({ state: 'detached' });

    // The same drawer from the token's page.
    await go(`token/${poor.token.id}`);
    await page.getByRole('region', { name: 'Recent requests' }).getByRole('button', { name: /^Details of the request/ }).click();
    expect(await page.getByRole('dialog', { name: 'Request gpt-4o-mini' }).getByTestId('error-message').textContent()).toBe(message);
  }, 60_000);
});

describe('charts', () => {
  it('switch range with the presets, keep the view in the URL, and put $ on money ticks', async () => {
    const old = s.token({ name: 'old-traffic' });
    const now = s.clock.now;
    s.clock.now = now - 5 * DAY_MS;
    await chat(old.secret, 'five days ago');
    await chat(old.secret, 'five days ago, again');
    s.clock.now = now;
    await go('usage');
    const charts = page.getByRole('region', { name: 'Charts' });
    await page.locator('section.charts[data-range="30d"]').waitFor();
    const summary = charts.locator('.toolbar .muted');
    const monthly = Number((await summary.textContent())!.split(' ')[0]);
    await page.getByRole('img', { name: 'Requests per day (UTC)' }).waitFor();

    await charts.getByRole('button', { name: '24h' }).click();
    await page.locator('section.charts[data-range="24h"]').waitFor();
    await page.getByRole('img', { name: 'Requests per hour' }).waitFor();
    expect(await page.evaluate(() => window.location.hash)).toContain('range=24h');
    const daily = Number((await summary.textContent())!.split(' ')[0]);
    expect(daily).toBe(monthly - 2);
    expect(daily).toBe(micros('SELECT count(*) FROM usage WHERE ts >= ?', Math.floor(now / 3_600_000) * 3_600_000 - 23 * 3_600_000));

    await charts.getByRole('button', { name: 'By model' }).click();
    await page.reload();
    await page.locator('section.charts[data-range="24h"]').waitFor();
    expect(await charts.getByRole('button', { name: 'By model' }).getAttribute('aria-pressed')).toBe('true');
    const ticks = await page.getByRole('img', { name: /^Spend per/ }).locator('text.axis').allTextContents();
    const money = ticks.filter((t) => !/^\d\d:00$/.test(t));
    expect(money.length).toBeGreaterThan(0);
    for (const t of money) expect(t).toMatch(/^\$/);
    for (const name of ['Error rate', 'Latency p50 and p95']) await page.getByRole('img', { name }).waitFor();
  }, 60_000);
});
