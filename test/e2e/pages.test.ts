/**
 * Every dashboard page in real Chromium, light and dark, with realistic data
 * (a hierarchy, traffic over days, a refusal, an access request waiting):
 * axe-core's WCAG 2 A/AA rules (colour contrast included) must find nothing,
 * and nothing may spill sideways on a 390-px phone. The same run takes the
 * README's screenshots (docs/dashboard-*.png) when SCREENSHOTS_TO_DOCS=1,
 * otherwise into test-artifacts/.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import OpenAI from 'openai';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DAY_MS } from '../../proxy/core/time.js';
import { startStack, type Stack } from '../helpers/stack.js';
import { launch, loginLink, SCREENSHOTS, type Browser } from './browser.js';

// Callbacks given to page.evaluate run in the browser, where these exist; the test project has no DOM lib.
declare const document: any, window: any; // eslint-disable-line @typescript-eslint/no-explicit-any

const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const DOCS = fileURLToPath(new URL('../../docs/', import.meta.url));
const shotsDir = process.env.SCREENSHOTS_TO_DOCS === '1' ? DOCS : SCREENSHOTS;

let s: Stack;
let browser: Browser;
let page: Page;
let leadId = '';

beforeAll(async () => {
  s = await startStack({ daemon: { access: { pollIntervalS: 1, maxPerMinute: 100, maxPending: 100 } } });
  const agent = (key: string) => new OpenAI({ apiKey: key, baseURL: s.baseURL, maxRetries: 0 });
  const lead = s.token({ name: 'research-lead', preset: 'admin', budgetUsd: 50 });
  leadId = lead.token.id;
  const crawler = s.token({ name: 'crawler', budgetUsd: 10, parentId: lead.token.id });
  const writer = s.token({ name: 'writer-with-a-rather-long-descriptive-name-for-phones', budgetUsd: 20, parentId: lead.token.id });
  const ci = s.token({ name: 'ci-bot', budgetUsd: 0.0006, expires: '30d' });
  const plan: Array<[typeof lead, string, number]> = [
    [writer, 'claude-4-5-sonnet', 1500],
    [crawler, 'gpt-4o', 2500],
    [lead, 'gemini/gemini-2.5-flash', 400],
    [ci, 'gpt-4o-mini', 200],
  ];
  const now = s.clock.now;
  for (let d = 6; d >= 0; d--) {
    s.clock.now = now - d * DAY_MS;
    for (const [k, model, words] of plan) {
      await agent(k.secret)
        .chat.completions.create({ model, max_tokens: words + 100, messages: [{ role: 'user', content: `day ${d}: ${'lorem '.repeat(words + d * 37)}` }] })
        .catch(() => undefined); // ci-bot runs out of budget: a 402 in the feed
    }
  }
  s.clock.now = now;
  await fetch(`${s.baseURL}/agents/request-access`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'docs-helper', scopes: ['models:read', 'models:use'], monthly_budget: 5, expiration_days: 30, reason: 'Summarise the team docs nightly' }),
  });
  await s.daemon.sync();
  browser = await launch({ bypassCSP: true });
  page = await browser.context.newPage();
  await page.goto(await loginLink(s.dataDir));
  await page.getByRole('navigation', { name: 'Pages' }).waitFor();
}, 120_000);
afterAll(async () => {
  await browser?.close();
  await s?.close();
});

/** Each page with what shows it is loaded. */
const PAGES: Array<[string, string]> = [
  ['overview', '.chart svg rect'],
  ['tokens', 'table.tokens tbody tr'],
  ['token', '.token-page .chart svg rect'],
  ['access', 'section.access-card'],
  ['requests', 'table.requests tbody tr'],
  ['usage', 'table.usage tbody tr'],
  ['audit', 'tbody tr'],
  ['settings', 'form'],
  ['setup', '.step'],
];
let loads = 0;
async function open(route: string, ready: string): Promise<void> {
  const hash = route === 'token' ? `token/${leadId}` : route;
  await page.goto(`${s.daemon.url}/?load=${++loads}#/${hash}`);
  await page.locator(ready).first().waitFor();
}

async function axe(): Promise<string[]> {
  if (!(await page.evaluate(() => Boolean(window.axe)))) await page.addScriptTag({ content: AXE });
  const found = (await page.evaluate(() => window.axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } }))) as {
    violations: Array<{ id: string; nodes: Array<{ target: string[]; failureSummary: string }> }>;
  };
  return found.violations.flatMap((v) => v.nodes.map((n) => `${v.id} at ${n.target.join(' ')}: ${n.failureSummary.replace(/\s+/g, ' ')}`));
}

for (const scheme of ['light', 'dark'] as const) {
  describe(`${scheme} theme`, () => {
    it('passes axe-core\'s WCAG A/AA rules on every page, a dialog and the drawer included', async () => {
      await page.emulateMedia({ colorScheme: scheme });
      await page.setViewportSize({ width: 1280, height: 800 });
      const problems: string[] = [];
      for (const [route, ready] of PAGES) {
        await open(route, ready);
        problems.push(...(await axe()).map((p) => `${route}: ${p}`));
      }
      await open('tokens', 'table.tokens tbody tr');
      await page.getByRole('button', { name: 'New token' }).click();
      await page.getByRole('dialog', { name: 'New token' }).getByLabel('Monthly budget (USD)').fill('abc');
      problems.push(...(await axe()).map((p) => `new-token dialog: ${p}`));
      await open('requests', 'table.requests tbody tr');
      await page.getByRole('button', { name: /^Details of the request/ }).first().click();
      await page.locator('dialog.drawer').waitFor();
      problems.push(...(await axe()).map((p) => `drawer: ${p}`));
      expect(problems).toEqual([]);
    }, 180_000);

    it('takes the screenshots at 1280×800 and 390×844; nothing spills sideways on a phone', async () => {
      await page.emulateMedia({ colorScheme: scheme });
      mkdirSync(shotsDir, { recursive: true });
      for (const size of [{ width: 1280, height: 800 }, { width: 390, height: 844 }]) {
        await page.setViewportSize(size);
        for (const [route, ready] of PAGES.filter(([r]) => ['overview', 'tokens', 'token', 'requests', 'usage', 'access'].includes(r))) {
          await open(route, ready);
          await page.evaluate(() => document.fonts.ready);
          await page.screenshot({ path: join(shotsDir, `dashboard-${route}-${scheme}-${size.width}.png`) });
          expect(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth + 1), `${route} at ${size.width}`).toBe(true);
        }
      }
      await page.setViewportSize({ width: 1280, height: 800 });
    }, 180_000);
  });
}
