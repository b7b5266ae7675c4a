/**
 * The dashboard's token dialogs carry a model allowlist (issue 24, item 3): typed as comma-separated
 * patterns, checked in the page by the same rule as the daemon's (wire/allowlist.ts), sent to the
 * admin API, and shown again when the token is edited. A bad pattern stops the save in the dialog.
 */
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import type { Stack } from '../helpers/stack.js';
import { useDashboard } from './browser.js';

let s: Stack;
let page: Page;
let loads = 0;

useDashboard((d) => ({ s, page } = d));

async function go(route: string, heading: string): Promise<void> {
  await page.goto(`${s.daemon.url}/?load=${++loads}#/${route}`);
  await page.getByRole('heading', { name: heading, exact: true }).first().waitFor();
}
const byName = (name: string) => s.tokens.list().find((t) => t.name === name);

describe('the token dialogs', () => {
  it('create: models typed as patterns are the token\'s list; a bad one is refused in the dialog', async () => {
    await go('tokens', 'Tokens');
    await page.getByRole('button', { name: 'New token' }).click();
    const dialog = page.getByRole('dialog', { name: 'New token' });
    await dialog.getByLabel('Name').fill('limited-agent');
    await dialog.getByLabel('Monthly budget (USD)').fill('1');
    await dialog.getByLabel('Models', { exact: true }).fill('replicate/*, gemini//x');
    await dialog.getByRole('button', { name: 'Create token' }).click();
    await dialog.getByRole('alert').getByText(/is not a model id/).waitFor();
    expect(byName('limited-agent')).toBeUndefined();
    await dialog.getByLabel('Models', { exact: true }).fill('replicate/*, gemini/*');
    await dialog.getByRole('button', { name: 'Create token' }).click();
    await page.getByRole('dialog', { name: 'Token limited-agent created' }).waitFor();
    expect(byName('limited-agent')!.models).toEqual(['replicate/*', 'gemini/*']);
    await page.getByRole('button', { name: /^Done/ }).click();
  }, 60_000);

  it('edit: shows the list, narrows it, and an empty field means every model again', async () => {
    const t = s.token({ name: 'edited-agent', models: ['replicate/*', 'gemini/*'] });
    await go('tokens', 'Tokens');
    await page.getByRole('button', { name: 'Edit edited-agent' }).click();
    const dialog = page.getByRole('dialog', { name: 'Edit edited-agent' });
    expect(await dialog.getByLabel('Models', { exact: true }).inputValue()).toBe('replicate/*, gemini/*');
    await dialog.getByLabel('Models', { exact: true }).fill('gemini/*');
    await dialog.getByRole('button', { name: 'Save' }).click();
    await dialog.waitFor({ state: 'detached' });
    expect(s.tokens.require(t.token.id).models).toEqual(['gemini/*']);
    await page.getByRole('button', { name: 'Edit edited-agent' }).click();
    await dialog.getByLabel('Models', { exact: true }).fill('');
    await dialog.getByRole('button', { name: 'Save' }).click();
    await dialog.waitFor({ state: 'detached' });
    expect(s.tokens.require(t.token.id).models).toBeNull();
  }, 60_000);

  it('approve: the request shows the models asked for; a wider grant is refused, a narrower one is the token\'s', async () => {
    const res = await fetch(`${s.baseURL}/agents/request-access`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'asker', scopes: ['models:use'], monthly_budget: 1, models: ['replicate/*', 'gemini/*'] }),
    });
    const a = (await res.json()) as { poll_url: string };
    await go('access', 'Access requests');
    await page.getByText('replicate/*, gemini/*').first().waitFor();
    await page.getByRole('button', { name: 'Approve asker' }).click();
    const dialog = page.getByRole('dialog', { name: 'Approve asker?' });
    await dialog.getByLabel('Models', { exact: true }).fill('openai/*');
    await dialog.getByRole('button', { name: 'Approve', exact: true }).click();
    await dialog.getByRole('alert').getByText(/openai\/\* is outside it/).first().waitFor();
    await dialog.getByLabel('Models', { exact: true }).fill('gemini/*');
    await dialog.getByRole('button', { name: 'Approve', exact: true }).click();
    await dialog.waitFor({ state: 'detached' });
    const got = (await (await fetch(a.poll_url)).json()) as { status: string; models: string[] };
    expect(got).toMatchObject({ status: 'approved', models: ['gemini/*'] });
  }, 60_000);
});
