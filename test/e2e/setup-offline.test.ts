/**
 * Issue 19 item 3 in real Chromium: a SkillBoss key saved while SkillBoss
 * cannot be reached is in one truthful state everywhere — saved, not checked
 * yet — never "✓ Key set" above "No key is set", never "sk-…1234 · not set".
 */
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import type { Stack } from '../helpers/stack.js';
import { loginLink, useDashboard } from './browser.js';

let s: Stack;
let page: Page;

// Nothing listens on port 9 of loopback: SkillBoss is unreachable for the whole file.
useDashboard((d) => ({ s, page } = d), { stack: { setKey: false, daemon: { upstreamUrl: 'http://127.0.0.1:9' } }, signIn: false });

describe('a key that could not be checked', () => {
  it('the setup says it was saved and not checked, and nothing else', async () => {
    await page.goto(await loginLink(s.dataDir));
    await page.getByRole('heading', { name: 'Set up the sidecar' }).waitFor();
    const step = page.getByRole('region', { name: 'Your SkillBoss API key' });
    await step.getByLabel('SkillBoss API key').fill(s.simKey);
    await step.getByRole('button', { name: 'Save key' }).click();
    await step.getByText(`sk-…${s.simKey.slice(-4)}`).waitFor();
    await step.getByText(/not checked/i).first().waitFor();
    const text = (await step.textContent())!;
    expect(text).not.toMatch(/no key is set/i);
    expect(text).not.toMatch(/accepted/i);
    expect(s.keyStore.get()).toBe(s.simKey);
  });

  it('the overview shows the same state for the key, not "not set"', async () => {
    await page.goto(`${s.daemon.url}/#/overview`);
    const card = page.getByRole('region', { name: 'Upstream' });
    await card.getByText(`sk-…${s.simKey.slice(-4)}`).waitFor();
    const text = (await card.textContent())!;
    expect(text).not.toMatch(/not set/i);
    expect(text).toMatch(/not checked/i);
    expect(await page.getByRole('region', { name: 'Finish setting up' }).count()).toBe(0);
  });
});
