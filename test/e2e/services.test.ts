/**
 * SkillBoss's services on the dashboard (issue 24 item 5), in real Chromium
 * against the real daemon and `simulator --dialect real`: spend by vendor and
 * by type on the usage page and on a token's page, and the request drawer
 * showing a run's model, its job's status and the cost SkillBoss reported.
 */
import type { Page } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Stack } from '../helpers/stack.js';
import { screenshot, useDashboard } from './browser.js';

let s: Stack;
let page: Page;

useDashboard((d) => ({ s, page } = d), { stack: { dialect: 'real', sim: { services: true } } });

const IMAGE = 'replicate/black-forest-labs/flux-schnell';
const VIDEO = 'minimax/video-01';
let loads = 0;
const go = (hash: string) => page.goto(`${s.daemon.url}/?load=${++loads}#/${hash}`);

let tokenId: string;
let job: { job_id: string; request_id: string; settled_request_id: string };
beforeAll(async () => {
  const { token, secret } = s.token({ name: 'studio-agent', budgetUsd: 5 });
  tokenId = token.id;
  const call = async (path: string, body?: unknown) => {
    const res = await fetch(`${s.baseURL}${path}`, {
      method: body === undefined ? 'GET' : 'POST',
      headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    expect(res.status).toBeLessThan(300);
    return (await res.json()) as Record<string, unknown>;
  };
  await call('/run', { model: IMAGE, inputs: { prompt: 'a kite' } });
  const started = await call('/run', { model: VIDEO, inputs: { prompt: 'waves', polls: 1 } });
  await call(`/job/${String(started.job_id)}`);
  expect((await call(`/job/${String(started.job_id)}`)).status).toBe('completed');
  job = s.daemon.db.prepare('SELECT job_id, request_id, settled_request_id FROM service_jobs WHERE job_id = ?').get(started.job_id) as typeof job;
}, 60_000);

/** The cost a split card shows for `key`, as the page renders it. */
async function shown(card: string, key: string): Promise<number> {
  const cell = page.getByRole('region', { name: card }).locator(`tr[data-key="${key}"] td[data-usd]`);
  await cell.waitFor();
  return Number(await cell.getAttribute('data-usd'));
}

describe('spend by vendor and by type', () => {
  it('the usage page splits the spend by the models\' vendors and types', async () => {
    await go('usage');
    expect(await shown('Spend by vendor', 'minimax')).toBe(0.45);
    expect(await shown('Spend by vendor', 'replicate')).toBe(0.037);
    expect(await shown('Spend by type', 'video')).toBe(0.45);
    expect(await shown('Spend by type', 'image')).toBe(0.037);
    await page.getByRole('region', { name: 'Spend by type' }).scrollIntoViewIfNeeded();
    await screenshot(page, 'services-usage');
  }, 60_000);

  it('so does a token\'s page, for its own calls', async () => {
    const other = s.token({ name: 'other-agent' });
    await fetch(`${s.baseURL}/run`, {
      method: 'POST',
      headers: { authorization: `Bearer ${other.secret}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: IMAGE, inputs: { prompt: 'another kite' } }),
    });
    await go(`token/${tokenId}`);
    await page.getByRole('heading', { name: 'studio-agent', level: 1 }).waitFor();
    expect(await shown('Spend by vendor', 'replicate')).toBe(0.037);
    expect(await shown('Spend by type', 'video')).toBe(0.45);
    // Only this token's: the other agent's image is not in it.
    expect(await page.getByRole('region', { name: 'Spend by vendor' }).locator('tbody tr').count()).toBe(2);
  }, 60_000);
});

describe('the request drawer', () => {
  it('shows a run\'s model, its job\'s status and the cost SkillBoss reported', async () => {
    await go(`token/${tokenId}`);
    const recent = page.getByRole('region', { name: 'Recent requests' });
    await recent.locator(`tr[data-request-id="${job.settled_request_id}"] button`).click();
    const drawer = page.getByRole('dialog', { name: `Request ${VIDEO}` });
    await drawer.waitFor();
    expect(await drawer.getByTestId('job').textContent()).toContain(job.job_id);
    expect(await drawer.getByTestId('job-status').textContent()).toBe('completed');
    expect(Number(await drawer.getByTestId('job-cost').getAttribute('data-usd'))).toBe(0.45);
    expect(await drawer.getByTestId('cost-source').textContent()).toContain('reported by SkillBoss');
    await page.keyboard.press('Escape');
    await drawer.waitFor({ state: 'detached' });

    // The run that started it: charged nothing itself, its reservation held until the poll above.
    await recent.locator(`tr[data-request-id="${job.request_id}"] button`).click();
    const start = page.getByRole('dialog', { name: `Request ${VIDEO}` });
    expect(await start.getByTestId('job').textContent()).toContain('This run started it');
    expect(await start.getByTestId('job-status').textContent()).toBe('completed');
    await screenshot(page, 'services-drawer');
  }, 60_000);
});
