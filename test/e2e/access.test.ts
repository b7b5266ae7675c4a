/**
 * Self-provisioning in real Chromium against the real daemon and simulator:
 * an agent asks for access over HTTP, the request appears in the dashboard
 * live with the same code, the human approves it with less in the UI, and
 * the agent's next poll gets a token with exactly that, which works with the
 * openai SDK. Then a request denied in the UI, with its reason reaching the
 * agent.
 */
import OpenAI from 'openai';
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { DAY_MS } from '../../proxy/core/time.js';
import type { Stack } from '../helpers/stack.js';
import { pageHolds, screenshot, useDashboard } from './browser.js';

// Callbacks given to page.evaluate run in the browser, where these exist; the test project has no DOM lib.
declare const document: any, window: any; // eslint-disable-line @typescript-eslint/no-explicit-any

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

let s: Stack;
let page: Page;

useDashboard((d) => ({ s, page } = d), { stack: { daemon: { access: { pollIntervalS: 1, maxPerMinute: 100, maxPending: 100 } } } });

interface Asked {
  request_id: string;
  user_code: string;
  poll_url: string;
}

async function ask(name: string, reason: string): Promise<Asked> {
  const res = await fetch(`${s.baseURL}/agents/request-access`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name, scopes: ['models:read', 'models:use', 'billing:read'], monthly_budget: 20, expiration_days: 30, reason }),
  });
  expect(res.status).toBe(201);
  return (await res.json()) as Asked;
}

async function poll(a: Asked): Promise<{ status: number; json: Json }> {
  const res = await fetch(a.poll_url);
  return { status: res.status, json: (await res.json()) as Json };
}

const card = (a: Asked) => page.locator(`section.access-card[data-request-id="${a.request_id}"]`);

async function openAccessPage(): Promise<void> {
  await page.goto(`${s.daemon.url}/#/access`);
  await page.getByRole('heading', { name: 'Access requests', exact: true }).waitFor();
  // Live updates connected: what follows arrives without a reload.
  await page.locator('header .dot.good').waitFor();
}

describe('approve in the dashboard', () => {
  let a: Asked;

  it('shows a new request live, with the code the agent got, its terms and time left', async () => {
    await openAccessPage();
    await page.getByText('No requests are waiting.').waitFor();
    const navigations: string[] = [];
    page.on('framenavigated', (f) => navigations.push(f.url()));

    a = await ask('researcher', 'summarise papers');
    const asked = Date.now();
    await card(a).waitFor({ timeout: 2000 });
    expect(Date.now() - asked).toBeLessThan(2000);
    expect(navigations).toEqual([]);

    expect((await card(a).getByTestId('user-code').textContent())!.trim()).toBe(a.user_code);
    const text = (await card(a).textContent())!;
    for (const part of ['researcher', 'summarise papers', 'models:read, models:use, billing:read', '$20.00 a month', '30 days']) expect(text).toContain(part);
    expect(await card(a).getByTestId('time-left').textContent()).toMatch(/^(9|10) min \d\d s left to answer$/);
    // The code is the biggest text on the card: the human compares it at a glance.
    const sizes = await card(a).evaluate((el: any) => ({ // eslint-disable-line @typescript-eslint/no-explicit-any
      code: parseFloat(window.getComputedStyle(el.querySelector('.user-code')).fontSize),
      name: parseFloat(window.getComputedStyle(el.querySelector('.access-name')).fontSize),
    }));
    expect(sizes.code).toBeGreaterThan(sizes.name);
    await page.getByRole('link', { name: /Access\s*1 waiting/ }).waitFor();
    // What collects the token never reaches the dashboard.
    expect(await pageHolds(page, new URL(a.poll_url).searchParams.get('secret')!)).toEqual([]);
    await screenshot(page, 'access');
  });

  it('refuses more than was asked for, then approves with a smaller budget, fewer scopes and a shorter life', async () => {
    await page.getByRole('button', { name: 'Approve researcher' }).click();
    const dialog = page.getByRole('dialog', { name: 'Approve researcher?' });
    await dialog.waitFor();
    expect(await dialog.textContent()).toContain(a.user_code);
    await dialog.getByLabel('Monthly budget (USD)').fill('50');
    await dialog.getByRole('button', { name: 'Approve', exact: true }).click();
    await dialog.getByRole('alert').getByText('the agent asked for 20 USD a month; grant that or less').waitFor();
    expect((await poll(a)).json.status).toBe('pending');

    await dialog.getByLabel('billing:read').uncheck();
    await dialog.getByLabel('Monthly budget (USD)').fill('2.5');
    await dialog.getByLabel('Valid for (days)').fill('7');
    await dialog.getByRole('button', { name: 'Approve', exact: true }).click();
    await dialog.waitFor({ state: 'detached' });
    await page.getByRole('status').getByText(/^Approved researcher/).waitFor();
    await card(a).waitFor({ state: 'detached' });
    await page.locator(`tr[data-request-id="${a.request_id}"]`).getByText('approved, not collected yet').waitFor();
  });

  it('gives the agent, at its next poll, a token with exactly what was approved; it works with the openai SDK; then 410', async () => {
    const got = await poll(a);
    expect(got.status).toBe(200);
    expect(got.json).toMatchObject({ status: 'approved', user_code: a.user_code, scopes: ['models:read', 'models:use'], monthly_budget: 2.5 });
    expect(Date.parse(got.json.expires_at) - s.clock.now).toBe(7 * DAY_MS);
    expect(s.tokens.get(got.json.token_id)).toMatchObject({ name: 'researcher', scopes: ['models:read', 'models:use'], budget: 2_500_000 });

    const agent = new OpenAI({ apiKey: got.json.api_key, baseURL: got.json.base_url, maxRetries: 0 });
    const reply = await agent.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hello from a self-provisioned agent' }] });
    expect(reply.choices[0]!.message.content).toBe('Echo: Hello from a self-provisioned agent');
    const balance = await fetch(`${s.baseURL}/balance`, { headers: { authorization: `Bearer ${got.json.api_key}` } });
    expect(balance.status).toBe(403); // billing:read was taken away in the UI
    expect((await poll(a)).status).toBe(410);
    expect(await pageHolds(page, got.json.api_key)).toEqual([]);
  });
});

describe('deny in the dashboard', () => {
  it('alerts on the overview, and after a confirmation the agent\'s poll says denied, with the reason', async () => {
    await page.goto(`${s.daemon.url}/#/overview`);
    await page.getByRole('heading', { name: 'Spend per day' }).waitFor();
    await page.locator('header .dot.good').waitFor();
    const a = await ask('scraper', 'crawl the web');
    const alert = page.locator('li.alert[data-kind="access_pending"]');
    await alert.waitFor({ timeout: 3000 });
    expect(await alert.textContent()).toContain('1 access request is waiting');
    await alert.getByRole('link', { name: 'Review them' }).click();
    await page.getByRole('heading', { name: 'Access requests', exact: true }).waitFor();
    expect((await card(a).getByTestId('user-code').textContent())!.trim()).toBe(a.user_code);

    await page.getByRole('button', { name: 'Deny scraper' }).click();
    const dialog = page.getByRole('dialog', { name: 'Deny scraper?' });
    await dialog.getByLabel(/Reason/).fill('not this week');
    // Cancelling changes nothing.
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await dialog.waitFor({ state: 'detached' });
    expect((await poll(a)).json.status).toBe('pending');

    await page.getByRole('button', { name: 'Deny scraper' }).click();
    await dialog.getByLabel(/Reason/).fill('not this week');
    await dialog.getByRole('button', { name: 'Deny request' }).click();
    await dialog.waitFor({ state: 'detached' });
    await card(a).waitFor({ state: 'detached' });
    await page.getByText('No requests are waiting.').waitFor();
    // The badge goes with the last waiting request.
    await page.getByRole('navigation', { name: 'Pages' }).getByRole('link', { name: 'Access', exact: true }).waitFor();

    const got = await poll(a);
    expect(got.json).toMatchObject({ status: 'denied', reason: 'not this week' });
    expect(got.json).not.toHaveProperty('api_key');
    await page.locator(`tr[data-request-id="${a.request_id}"]`).getByText('not this week').waitFor();
  });

  it('fits a narrow window', async () => {
    await ask('narrow-agent', 'check the layout');
    await page.setViewportSize({ width: 420, height: 700 });
    await openAccessPage();
    await page.locator('section.access-card').first().waitFor();
    await screenshot(page, 'access');
    expect(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth + 1)).toBe(true);
    await page.setViewportSize({ width: 1280, height: 800 });
  });
});
