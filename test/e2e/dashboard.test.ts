/**
 * The dashboard in real Chromium against the real daemon and simulator: sign
 * in through the one-time link, create a token in the UI and use it with the
 * openai SDK, watch the request arrive live and the budget bar move, revoke
 * it, and keep screenshots of every page at two window sizes.
 */
import OpenAI from 'openai';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DAY_MS } from '../../proxy/core/time.js';
import { readAdminSecret } from '../../proxy/admin/secret.js';
import { startStack, type Stack } from '../helpers/stack.js';
import { heapHolds, launch, loginLink, pageHolds, screenshot, type Browser } from './browser.js';

// Callbacks given to page.evaluate run in the browser, where these exist; the test project has no DOM lib.
declare const document: any, window: any, navigator: any, localStorage: any, sessionStorage: any, getComputedStyle: any; // eslint-disable-line @typescript-eslint/no-explicit-any

let s: Stack;
let browser: Browser;
let page: Page;
let link: string;

beforeAll(async () => {
  s = await startStack();
  browser = await launch();
  await browser.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: s.daemon.url });
  page = await browser.context.newPage();
}, 60_000);
afterAll(async () => {
  await browser?.close();
  await s?.close();
});

const agent = (key: string) => new OpenAI({ apiKey: key, baseURL: s.baseURL, maxRetries: 0 });
const chat = (key: string, content = 'Hello from the dashboard test') => agent(key).chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content }] });
const tokenRow = (id: string) => page.locator(`tr[data-token-id="${id}"]`);
const meterOf = async (id: string) => Number(await tokenRow(id).locator('[role=meter]').getAttribute('aria-valuenow'));

async function go(route: string, ready: string): Promise<void> {
  await page.goto(`${s.daemon.url}/#/${route}`);
  await page.getByRole('heading', { name: ready, exact: true }).first().waitFor();
}

describe('signing in', () => {
  it('shows the sign-in help without a session', async () => {
    await page.goto(`${s.daemon.url}/`);
    await page.getByRole('heading', { name: 'Sign in to the sidecar' }).waitFor();
    expect(await page.content()).toContain('skillboss-sidecar open');
  });

  it('signs in once through the one-time link; a second use fails', async () => {
    link = await loginLink(s.dataDir);
    const first = await page.goto(link);
    expect(first!.status()).toBe(200);
    expect(page.url()).toBe(`${s.daemon.url}/`);
    await page.getByRole('navigation', { name: 'Pages' }).waitFor();
    const cookies = await browser.context.cookies(s.daemon.url);
    expect(cookies).toHaveLength(1);
    expect(cookies[0]).toMatchObject({ name: `sbs_admin_${s.daemon.port}`, httpOnly: true, sameSite: 'Strict' });
    // The page's scripts cannot see the session.
    expect(await page.evaluate(() => document.cookie)).toBe('');

    const other = await browser.context.newPage();
    const second = await other.goto(link);
    expect(second!.status()).toBe(401);
    expect(await other.content()).toContain('already used');
    await other.close();
  });
});

describe('a token from the UI, used by an agent', () => {
  let secret = '';
  let tokenId = '';

  it('is created in the dialog; its secret is shown once, copied, then gone from the page and its memory', async () => {
    await go('tokens', 'Tokens');
    await page.getByRole('button', { name: 'New token' }).click();
    const dialog = page.getByRole('dialog', { name: 'New token' });
    await dialog.getByLabel('Name').fill('e2e-agent');
    await dialog.getByLabel('Permissions').selectOption('write');
    await dialog.getByLabel('Monthly budget (USD)').fill('0.01');
    await dialog.getByRole('button', { name: 'Create token' }).click();

    const shown = page.getByRole('dialog', { name: 'Token e2e-agent created' });
    await shown.waitFor();
    secret = (await shown.getByTestId('secret').textContent())!.trim();
    expect(secret).toMatch(/^sk-sbl-[0-9A-Za-z]{38}$/);
    for (const tab of ['Env vars', 'Python', 'TypeScript', 'curl']) {
      await shown.getByRole('tab', { name: tab }).click();
      expect(await shown.getByRole('tabpanel').textContent()).toContain(secret);
    }
    expect(await shown.getByRole('tabpanel').textContent()).toContain(`${s.daemon.url}/v1/chat/completions`);
    // The Clipboard API wants a focused document.
    await page.bringToFront();
    await shown.getByRole('button', { name: 'Copy', exact: true }).click();
    await shown.getByRole('button', { name: 'Copied', exact: true }).waitFor();
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(secret);

    await shown.getByRole('button', { name: /^Done/ }).click();
    await shown.waitFor({ state: 'detached' });
    tokenId = s.tokens.list().find((t) => t.name === 'e2e-agent')!.id;
    await tokenRow(tokenId).waitFor();

    expect(await pageHolds(page, secret)).toEqual([]);
    expect(await pageHolds(page, secret.slice(7))).toEqual([]);
    expect(await heapHolds(page, secret)).toBe(false);
  }, 60_000);

  it('works with the openai SDK; the request appears in the live table within a second, with its cost', async () => {
    await go('requests', 'Requests');
    await page.locator('.live.on').waitFor();
    const widths = await page.locator('table.requests thead th').evaluateAll((ths) => ths.map((th) => th.getBoundingClientRect().width));

    const reply = await chat(secret);
    const answered = Date.now();
    expect(reply.choices[0]!.message.content).toBe('Echo: Hello from the dashboard test');
    const row = page.locator('table.requests tbody tr', { hasText: 'e2e-agent' }).first();
    await row.waitFor({ timeout: 1000 });
    expect(Date.now() - answered).toBeLessThan(1000);

    const ledger = s.daemon.db.prepare('SELECT cost_micros, request_id FROM usage WHERE token_id = ? ORDER BY id DESC').get(tokenId) as { cost_micros: number; request_id: string };
    expect(ledger.cost_micros).toBeGreaterThan(0);
    expect(await row.getAttribute('data-request-id')).toBe(ledger.request_id);
    // The exact amount is on the cell; its text is the one money format (three significant digits under a dollar).
    expect(Number(await row.locator('td.col-cost').getAttribute('data-usd'))).toBe(ledger.cost_micros / 1e6);
    expect(await row.locator('td.col-cost').textContent()).toMatch(/^\$\d/);
    expect(await row.locator('td.col-model').textContent()).toBe('gpt-4o-mini');
    expect(await row.locator('td.col-code').textContent()).toBe('200');

    // More rows arriving do not reflow the table.
    for (let i = 0; i < 3; i++) await chat(secret, `again ${i}`);
    await page.locator('table.requests tbody tr', { hasText: 'e2e-agent' }).nth(3).waitFor({ timeout: 2000 });
    const after = await page.locator('table.requests thead th').evaluateAll((ths) => ths.map((th) => th.getBoundingClientRect().width));
    expect(after).toEqual(widths);
  });

  it('moves the token\'s budget bar as it spends', async () => {
    await go('tokens', 'Tokens');
    await tokenRow(tokenId).waitFor();
    const before = await meterOf(tokenId);
    expect(before).toBeGreaterThan(0);
    await chat(secret, 'spend a little more, please');
    await page.waitForFunction(
      ([id, was]) => Number(document.querySelector(`tr[data-token-id="${id}"] [role=meter]`)?.getAttribute('aria-valuenow')) > was,
      [tokenId, before] as const,
      { timeout: 3000 },
    );
    const spent = (s.daemon.db.prepare('SELECT spent_micros FROM spend WHERE token_id = ?').pluck().get(tokenId) as number) / 1e6;
    expect(await meterOf(tokenId)).toBe(spent);
  });

  it('is revoked in the UI after a confirmation that names it; the next SDK call gets 401', async () => {
    const child = s.token({ name: 'e2e-child', parentId: tokenId, budgetUsd: 0.005, expires: undefined });
    await page.reload();
    await tokenRow(tokenId).waitFor();
    await page.getByRole('button', { name: 'Revoke e2e-agent' }).click();
    const confirm = page.getByRole('dialog', { name: 'Revoke e2e-agent?' });
    await confirm.getByText('e2e-child').waitFor();
    await confirm.getByRole('button', { name: 'Revoke 2 tokens' }).click();
    await confirm.waitFor({ state: 'detached' });
    await tokenRow(tokenId).waitFor({ state: 'detached' });

    const err = (await chat(secret).catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
    expect(err).toBeInstanceOf(OpenAI.AuthenticationError);
    expect(err.status).toBe(401);
    const childErr = (await chat(child.secret).catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
    expect(childErr.status).toBe(401);
  });
});

describe('settings', () => {
  it('takes the upstream key write-only and shows field errors from the API', async () => {
    await go('settings', 'Settings');
    const keyCard = page.getByRole('region', { name: 'SkillBoss API key' });
    const input = keyCard.getByLabel('Replace with');
    await input.fill('not-a-key');
    await keyCard.getByRole('button', { name: 'Save' }).click();
    await keyCard.getByRole('alert').getByText('does not look like a SkillBoss API key').waitFor();
    expect(await input.inputValue()).toBe('');

    await input.fill(s.simKey);
    await keyCard.getByRole('button', { name: 'Save' }).click();
    await keyCard.getByRole('status').getByText('SkillBoss accepted the key').waitFor();
    expect(await input.inputValue()).toBe('');
    expect(await keyCard.textContent()).toContain(`sk-…${s.simKey.slice(-4)}`);
    expect(await pageHolds(page, s.simKey)).toEqual([]);
    expect(s.keyStore.get()).toBe(s.simKey);

    const hooks = page.getByRole('region', { name: 'Webhooks and browser agents' });
    await hooks.getByLabel(/Hosts rotation webhooks/).fill('hooks.example.com\n127.1');
    await hooks.getByRole('button', { name: 'Save' }).click();
    await hooks.getByRole('alert').getByText(/line 2: .*address/).waitFor();
    await hooks.getByLabel(/Hosts rotation webhooks/).fill('hooks.example.com');
    await hooks.getByRole('button', { name: 'Save' }).click();
    await hooks.getByRole('status').getByText('Saved').waitFor();
    expect(s.daemon.db.prepare("SELECT value FROM settings WHERE key = 'webhook_allowed_hosts'").pluck().get()).toBe('["hooks.example.com"]');
  });
});

describe('settings: where the key goes (issue 25 item 10)', () => {
  it('a new SkillBoss API URL asks for the admin secret: a wrong one is refused and nothing moves; the right one changes it', async () => {
    await go('settings', 'Settings');
    const card = page.getByRole('region', { name: 'Upstream and limits' });
    const to = 'https://127.0.0.1:9/v1';
    await card.getByLabel('SkillBoss API URL').fill(to);
    await card.getByRole('button', { name: 'Save' }).click();
    const dialog = page.getByRole('dialog', { name: 'Confirm with the admin secret' });
    await dialog.waitFor();
    await dialog.getByLabel('Admin secret').fill(`sk-sba-${'x'.repeat(43)}`);
    await dialog.getByRole('button', { name: 'Change the URL' }).click();
    await dialog.getByText("not this sidecar's admin secret").waitFor();
    expect(s.daemon.deps.upstream().baseUrl).toBe(s.sim.url);
    await dialog.getByLabel('Admin secret').fill(readAdminSecret(s.dataDir));
    await dialog.getByRole('button', { name: 'Change the URL' }).click();
    await dialog.waitFor({ state: 'detached' });
    await card.getByRole('status').getByText('Saved').waitFor();
    try {
      expect(s.daemon.deps.upstream().baseUrl).toBe(to);
      expect(await pageHolds(page, readAdminSecret(s.dataDir))).toEqual([]);
    } finally {
      s.daemon.setUpstreamUrl(s.sim.url);
    }
  });
});

describe('settings: what SkillBoss and agents see, and the control plane', () => {
  const settings = async () =>
    (await (await fetch(`${s.daemon.url}/admin/api/settings`, { headers: { authorization: `Bearer ${readAdminSecret(s.dataDir)}` } })).json()) as { control_plane_url: string | null; pass_upstream_fields: boolean; send_agent_name: boolean };

  it('toggles both switches, saves them, and shows them saved after a reload', async () => {
    expect(await settings()).toMatchObject({ pass_upstream_fields: false, send_agent_name: true });
    await go('settings', 'Settings');
    const card = page.getByRole('region', { name: 'What SkillBoss and agents see' });
    const sendName = card.getByRole('switch', { name: "Send each token's name to SkillBoss" });
    const passFields = card.getByRole('switch', { name: "Pass SkillBoss's own _ fields to agents" });
    expect(await sendName.isChecked()).toBe(true);
    expect(await passFields.isChecked()).toBe(false);
    await sendName.uncheck();
    await passFields.check();
    await card.getByRole('button', { name: 'Save' }).click();
    await card.getByRole('status').getByText('Saved').waitFor();
    expect(await settings()).toMatchObject({ pass_upstream_fields: true, send_agent_name: false });

    await page.reload();
    await page.getByRole('heading', { name: 'Settings', exact: true }).waitFor();
    expect(await sendName.isChecked()).toBe(false);
    expect(await passFields.isChecked()).toBe(true);

    // And back, so later tests see the defaults.
    await sendName.check();
    await passFields.uncheck();
    await card.getByRole('button', { name: 'Save' }).click();
    await card.getByRole('status').getByText('Saved').waitFor();
    expect(await settings()).toMatchObject({ pass_upstream_fields: false, send_agent_name: true });
  });

  it('a new control plane URL asks for the admin secret, then shows saved after a reload', async () => {
    await go('settings', 'Settings');
    const card = page.getByRole('region', { name: 'Upstream and limits' });
    const field = card.getByLabel(/SkillBoss control plane URL/);
    const to = 'https://console.example.com';
    await field.fill(to);
    await card.getByRole('button', { name: 'Save' }).click();
    const dialog = page.getByRole('dialog', { name: 'Confirm with the admin secret' });
    await dialog.waitFor();
    expect((await settings()).control_plane_url).toBeNull();
    await dialog.getByLabel('Admin secret').fill(readAdminSecret(s.dataDir));
    await dialog.getByRole('button', { name: 'Change the URL' }).click();
    await dialog.waitFor({ state: 'detached' });
    await card.getByRole('status').getByText('Saved').waitFor();
    expect((await settings()).control_plane_url).toBe(to);
    expect(await pageHolds(page, readAdminSecret(s.dataDir))).toEqual([]);

    await page.reload();
    await page.getByRole('heading', { name: 'Settings', exact: true }).waitFor();
    expect(await field.inputValue()).toBe(to);

    // Emptied: derived from the API URL again (also a move of the key, so the secret again).
    await field.fill('');
    await card.getByRole('button', { name: 'Save' }).click();
    await dialog.getByLabel('Admin secret').fill(readAdminSecret(s.dataDir));
    await dialog.getByRole('button', { name: 'Change the URL' }).click();
    await dialog.waitFor({ state: 'detached' });
    await card.getByRole('status').getByText('Saved').waitFor();
    expect((await settings()).control_plane_url).toBeNull();
  });
});

describe('keyboard', () => {
  it('opens a dialog with Enter, keeps focus inside it, closes it with Esc and returns focus', async () => {
    await go('tokens', 'Tokens');
    const opener = page.getByRole('button', { name: 'New token' });
    await opener.focus();
    await page.keyboard.press('Enter');
    const dialog = page.getByRole('dialog', { name: 'New token' });
    await dialog.waitFor();
    expect(await page.evaluate(() => document.activeElement.placeholder)).toBe('e.g. research-agent');
    for (let i = 0; i < 12; i++) {
      await page.keyboard.press('Tab');
      expect(await page.evaluate(() => Boolean(document.activeElement?.closest('dialog')))).toBe(true);
    }
    const outline = await page.evaluate(() => getComputedStyle(document.activeElement!).outlineStyle);
    expect(outline).not.toBe('none');
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'detached' });
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('New token');
  });
});

describe('screenshots', () => {
  it('of every page at 1280×800 and 420×700, with a month of traffic', async () => {
    // Seed a realistic picture: a few agents with a parent and children, traffic on the days of this month so far.
    const lead = s.token({ name: 'research-lead', preset: 'admin', budgetUsd: 50 });
    const crawler = s.token({ name: 'crawler', preset: 'write', budgetUsd: 10, parentId: lead.token.id });
    const writer = s.token({ name: 'writer', preset: 'write', budgetUsd: 20, parentId: lead.token.id });
    const ci = s.token({ name: 'ci-bot', preset: 'write', budgetUsd: 0.55, expires: '30d' });
    const viewer = s.token({ name: 'dashboard-viewer', preset: 'read-only' });
    const plan = [
      { k: writer, model: 'claude-4-5-sonnet', words: 2000, calls: (d: number) => 2 + (d % 3) },
      { k: crawler, model: 'gpt-4o', words: 3000, calls: (d: number) => 1 + ((d + 1) % 3) },
      { k: ci, model: 'claude-4-5-sonnet', words: 1500, calls: () => 1 },
      { k: lead, model: 'gemini/gemini-2.5-flash', words: 500, calls: () => 2 },
    ];
    const now = s.clock.now;
    for (let d = Math.min(9, new Date(now).getUTCDate() - 1); d >= 0; d--) {
      s.clock.now = now - d * DAY_MS;
      for (const p of plan) {
        for (let j = 0; j < p.calls(d); j++) {
          const words = p.words + ((d * 131 + j * 17) % 400);
          await agent(p.k.secret).chat.completions.create({ model: p.model, max_tokens: words + 200, messages: [{ role: 'user', content: `day ${d}: ${'lorem '.repeat(words)}` }] });
        }
      }
      if (d % 4 === 0) await chat(viewer.secret).catch(() => undefined); // read-only: refused with 403
    }
    s.clock.now = now;
    await s.daemon.sync();

    const pages: Array<[string, string]> = [
      ['overview', 'Spend per day'],
      ['tokens', 'Tokens'],
      ['requests', 'Requests'],
      ['usage', 'Usage'],
      ['audit', 'Audit log'],
      ['settings', 'Settings'],
    ];
    for (const size of [{ width: 1280, height: 800 }, { width: 420, height: 700 }]) {
      await page.setViewportSize(size);
      for (const [route, heading] of pages) {
        await go(route, heading);
        if (route === 'overview' || route === 'usage') await page.locator('.chart svg rect').first().waitFor();
        if (route === 'requests' || route === 'audit') await page.locator('tbody tr').first().waitFor();
        if (route === 'tokens') await tokenRow(crawler.token.id).waitFor();
        await screenshot(page, route);
        // Nothing spills sideways at a narrow width: the page itself never scrolls horizontally.
        expect(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth + 1), `${route} at ${size.width}`).toBe(true);
      }
    }
    await page.setViewportSize({ width: 1280, height: 800 });
  }, 120_000);

  it('dark mode follows the system', async () => {
    await page.emulateMedia({ colorScheme: 'dark' });
    await go('overview', 'Spend per day');
    await page.locator('.chart svg rect').first().waitFor();
    const bg = await page.evaluate(() => getComputedStyle(document.documentElement).backgroundColor);
    expect(bg).toBe('rgb(15, 18, 22)');
    await screenshot(page, 'overview-dark');
    await page.emulateMedia({ colorScheme: 'light' });
    expect(await page.evaluate(() => getComputedStyle(document.documentElement).backgroundColor)).toBe('rgb(246, 247, 249)');
  });
});
