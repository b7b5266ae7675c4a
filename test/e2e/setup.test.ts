/**
 * First run in real Chromium (issue 8): the daemon starts with no SkillBoss
 * key in the keychain; the human signs in, lands on the guided setup, pastes
 * the key (into the real OS keychain, checked against the simulator, shown
 * back only as `sk-…` + the last four), creates a first token (its secret
 * shown once, then gone from the page), and an agent call with that token
 * works. Also the tray's entry points: `#/tokens?create=1` and the pause
 * switch on the overview.
 */
import OpenAI from 'openai';
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { errorOf, type Stack } from '../helpers/stack.js';
import { heapHolds, loginLink, pageHolds, screenshot, useDashboard } from './browser.js';

// Callbacks given to page.evaluate run in the browser, where these exist; the test project has no DOM lib.
declare const window: any; // eslint-disable-line @typescript-eslint/no-explicit-any

let s: Stack;
let page: Page;
let secret = '';

useDashboard((d) => ({ s, page } = d), { stack: { setKey: false }, signIn: false });

const chat = (key: string) => new OpenAI({ apiKey: key, baseURL: s.baseURL, maxRetries: 0 }).chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hello after setup' }] });
const hash = () => page.evaluate(() => window.location.hash as string);

describe('first run', () => {
  it('starts with no key: agents get 503, and signing in lands on the setup', async () => {
    expect(s.keyStore.get()).toBeNull();
    const early = s.token({ name: 'too-early' });
    const res = await fetch(`${s.baseURL}/models`, { headers: { authorization: `Bearer ${early.secret}` } });
    expect(res.status).toBe(503);

    await page.goto(await loginLink(s.dataDir));
    await page.getByRole('heading', { name: 'Set up the sidecar' }).waitFor();
    expect(await hash()).toBe('#/setup');
    expect(await page.title()).toBe('Setup · SkillBoss Sidecar');
  });

  it('the overview asks to finish the setup', async () => {
    await page.goto(`${s.daemon.url}/#/overview`);
    const cta = page.getByRole('region', { name: 'Finish setting up' });
    await cta.waitFor();
    await cta.getByRole('link', { name: 'Start the setup' }).click();
    await page.getByRole('heading', { name: 'Set up the sidecar' }).waitFor();
    await screenshot(page, 'setup');
  });

  it('takes the key write-only: refused when malformed, then stored in the keychain and accepted by SkillBoss', async () => {
    const step = page.getByRole('region', { name: 'Your SkillBoss API key' });
    const input = step.getByLabel('SkillBoss API key');
    await input.fill('not-a-key');
    await step.getByRole('button', { name: 'Save key' }).click();
    await step.getByRole('alert').getByText('does not look like a SkillBoss API key').waitFor();
    expect(await input.inputValue()).toBe('');
    expect(s.keyStore.get()).toBeNull();

    await input.fill(s.simKey);
    await step.getByRole('button', { name: 'Save key' }).click();
    await step.getByRole('status').getByText('SkillBoss accepted the key.').waitFor();
    await step.getByText(`sk-…${s.simKey.slice(-4)}`).waitFor();
    expect(await input.inputValue()).toBe('');
    expect(s.keyStore.get()).toBe(s.simKey);
    expect(await pageHolds(page, s.simKey)).toEqual([]);
    expect(await pageHolds(page, s.simKey.slice(8))).toEqual([]);
    await page.getByRole('heading', { name: /Your SkillBoss API key \(done\)/ }).waitFor();
  });

  it('creates a first token, shows its secret once with snippets, then drops it from the page and its memory', async () => {
    const step = page.getByRole('region', { name: 'A token for your first agent' });
    await step.getByLabel('Name').fill('first-agent');
    await step.getByLabel('Monthly budget (USD)').fill('5');
    await step.getByRole('button', { name: 'Create token' }).click();

    const shown = page.getByRole('dialog', { name: 'Token first-agent created' });
    await shown.waitFor();
    secret = (await shown.getByTestId('secret').textContent())!.trim();
    expect(secret).toMatch(/^sk-sbl-[0-9A-Za-z]{38}$/);
    expect(await shown.getByRole('tabpanel').textContent()).toContain(`export OPENAI_BASE_URL=${s.baseURL}\nexport OPENAI_API_KEY=${secret}`);
    await shown.getByRole('button', { name: /^Done/ }).click();
    await shown.waitFor({ state: 'detached' });

    const t = s.tokens.list().find((x) => x.name === 'first-agent')!;
    expect(t.budget).toBe(5_000_000);
    expect([...t.scopes].sort()).toEqual(['billing:read', 'models:read', 'models:use', 'services:read', 'services:use']);
    await step.getByRole('status').getByText(t.id).waitFor();
    expect(await pageHolds(page, secret)).toEqual([]);
    expect(await pageHolds(page, secret.slice(7))).toEqual([]);
    expect(await heapHolds(page, secret)).toBe(false);
  }, 60_000);

  it('says how to point an agent at the sidecar; the agent\'s call with the new token works', async () => {
    const step = page.getByRole('region', { name: 'Point your agent at the sidecar' });
    expect(await step.getByTestId('base-url').textContent()).toBe(s.baseURL);
    expect(await step.textContent()).toContain('OPENAI_API_KEY=<the token from step 2>');
    await step.getByRole('link', { name: `${s.daemon.url}/skill.md` }).waitFor();
    const reply = await chat(secret);
    expect(reply.choices[0]!.message.content).toBe('Echo: Hello after setup');
    await screenshot(page, 'setup-done');
  });

  it('with a key set, signing in lands on the overview, with no call to action', async () => {
    await page.goto(await loginLink(s.dataDir));
    await page.getByRole('heading', { name: 'Spend per day' }).waitFor();
    expect(await hash()).toBe('');
    expect(await page.getByRole('region', { name: 'Finish setting up' }).count()).toBe(0);
  });
});

describe('the tray\'s entry points', () => {
  it('"New token…" opens the create dialog at #/tokens?create=1, each time it is used', async () => {
    await page.goto(`${s.daemon.url}/#/tokens?create=1`);
    const dialog = page.getByRole('dialog', { name: 'New token' });
    await dialog.waitFor();
    expect(await hash()).toBe('#/tokens');
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'detached' });
    // A reload does not reopen it; the tray's next click (the same URL, loaded into the open window) does.
    await page.reload();
    await page.getByRole('heading', { name: 'Tokens', exact: true }).waitFor();
    expect(await dialog.count()).toBe(0);
    await page.evaluate(() => {
      window.location.hash = '#/tokens?create=1';
    });
    await dialog.waitFor();
    await page.keyboard.press('Escape');
  });

  it('pauses every agent from the overview at once, and resumes them', async () => {
    await page.goto(`${s.daemon.url}/#/overview`);
    const sidecar = page.getByRole('region', { name: 'Sidecar' });
    await sidecar.getByRole('button', { name: 'Pause all agents' }).click();
    await sidecar.getByRole('button', { name: 'Resume agents' }).waitFor();
    const paused = await fetch(`${s.baseURL}/models`, { headers: { authorization: `Bearer ${secret}` } });
    expect(await errorOf(paused)).toMatchObject({ status: 503, code: 'sidecar_paused' });
    await page.locator('li.alert[data-kind="paused"]').waitFor();

    await sidecar.getByRole('button', { name: 'Resume agents' }).click();
    await sidecar.getByRole('button', { name: 'Pause all agents' }).waitFor();
    expect((await chat(secret)).choices).toHaveLength(1);
  });
});
