/**
 * A flood of access requests in real Chromium against the real daemon: the
 * queue is full, an agent is turned away, the Access page shows the flood
 * alert, and "Deny all waiting" (after its confirmation) denies every waiting
 * request, clears the alert and lets agents ask again.
 */
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../helpers/stack.js';
import { launch, loginLink, screenshot, type Browser } from './browser.js';

let s: Stack;
let browser: Browser;
let page: Page;

beforeAll(async () => {
  s = await startStack({ daemon: { access: { pollIntervalS: 1, maxPerMinute: 100, maxPending: 3 } } });
  browser = await launch();
  page = await browser.context.newPage();
  await page.goto(await loginLink(s.dataDir));
  await page.getByRole('navigation', { name: 'Pages' }).waitFor();
}, 60_000);
afterAll(async () => {
  await browser?.close();
  await s?.close();
});

const waiting = () => s.daemon.db.prepare("SELECT COUNT(*) FROM access_requests WHERE status = 'pending'").pluck().get() as number;

function ask(name: string): Promise<Response> {
  return fetch(`${s.baseURL}/agents/request-access`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name, scopes: ['models:use'], monthly_budget: 5, expiration_days: 7, reason: 'flood' }),
  });
}

describe('a flood of access requests', () => {
  it('shows the flood alert; "Deny all waiting" asks first, then denies every waiting request', async () => {
    const polls: string[] = [];
    for (const name of ['flood-1', 'flood-2', 'flood-3']) {
      const r = await ask(name);
      expect(r.status).toBe(201);
      polls.push(((await r.json()) as { poll_url: string }).poll_url);
    }
    const away = await ask('real-agent');
    expect(away.status).toBe(429);
    await away.arrayBuffer();

    await page.goto(`${s.daemon.url}/#/access`);
    await page.getByRole('heading', { name: 'Access requests', exact: true }).waitFor();
    const alert = page.locator('[data-kind="access_flood"]');
    await alert.waitFor();
    expect(await alert.innerText()).toContain('1 agent was turned away');
    await screenshot(page, 'access-flood');

    // Cancel changes nothing.
    await page.getByRole('button', { name: 'Deny all waiting…' }).click();
    const confirm = page.getByRole('dialog', { name: 'Deny all waiting requests?' });
    expect(await confirm.innerText()).toContain('All 3 requests');
    await confirm.getByRole('button', { name: 'Cancel' }).click();
    await confirm.waitFor({ state: 'detached' });
    expect(waiting()).toBe(3);

    await page.getByRole('button', { name: 'Deny all waiting…' }).click();
    await confirm.getByRole('button', { name: 'Deny all 3' }).click();
    await page.getByRole('status').getByText('Denied 3 waiting requests.').waitFor();
    expect(waiting()).toBe(0);
    for (const url of polls) expect(((await (await fetch(url)).json()) as { status: string }).status).toBe('denied');
    await alert.waitFor({ state: 'detached' });
    expect(await page.getByRole('button', { name: 'Deny all waiting…' }).count()).toBe(0);

    const again = await ask('real-agent');
    expect(again.status).toBe(201);
    await again.arrayBuffer();
  });
});
