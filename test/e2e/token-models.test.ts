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
});
