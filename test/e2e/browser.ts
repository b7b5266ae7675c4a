/**
 * Real Chromium (Debian's, driven by playwright-core) with a fresh profile,
 * plus helpers the dashboard tests share: a daemon and a browser for a test
 * file, signing in through a one-time link from the real CLI, and saving
 * screenshots as test artifacts.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { startStack, type Stack, type StackOptions } from '../helpers/stack.js';

// Callbacks given to page.evaluate run in the browser, where these exist; the test project has no DOM lib.
declare const document: any, window: any, navigator: any, localStorage: any, sessionStorage: any, getComputedStyle: any; // eslint-disable-line @typescript-eslint/no-explicit-any

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const SCREENSHOTS = fileURLToPath(new URL('../../test-artifacts/screenshots/', import.meta.url));

export interface Browser {
  context: BrowserContext;
  close(): Promise<void>;
}

/** `bypassCSP` only to inject test tooling (axe-core) into a page whose CSP rightly forbids inline scripts. */
export async function launch(opts: { colorScheme?: 'light' | 'dark'; bypassCSP?: boolean } = {}): Promise<Browser> {
  const profile = mkdtempSync(join(tmpdir(), 'sbs-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1280, height: 800 },
    colorScheme: opts.colorScheme ?? 'light',
    reducedMotion: 'reduce',
    locale: 'en-US',
    timezoneId: 'UTC',
    bypassCSP: opts.bypassCSP ?? false,
  });
  return {
    context,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

export interface Dashboard {
  s: Stack;
  browser: Browser;
  page: Page;
}

/**
 * A test file's daemon (with the simulator) and Chromium with one page, signed
 * in to the dashboard unless `signIn` is false; closed after the file. `ready`
 * receives them once started (the file's hooks run before its tests).
 */
export function useDashboard(ready: (d: Dashboard) => void, opts: { stack?: StackOptions; signIn?: boolean } = {}): void {
  let d: Partial<Dashboard> = {};
  beforeAll(async () => {
    d.s = await startStack(opts.stack);
    d.browser = await launch();
    d.page = await d.browser.context.newPage();
    if (opts.signIn !== false) {
      await d.page.goto(await loginLink(d.s.dataDir));
      await d.page.getByRole('navigation', { name: 'Pages' }).waitFor();
    }
    ready(d as Dashboard);
  }, 60_000);
  afterAll(async () => {
    await d.browser?.close();
    await d.s?.close();
    d = {};
  });
}

/** A one-time login link, minted by the real CLI through the data dir of the running daemon. */
export async function loginLink(dataDir: string): Promise<string> {
  const out = await runCli(['--data-dir', dataDir, 'open', '--print']);
  if (out.code !== 0) throw new Error(`open --print failed: ${out.stderr}`);
  return out.stdout.trim();
}

export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  const vp = page.viewportSize()!;
  const file = join(SCREENSHOTS, `${name}-${vp.width}x${vp.height}.png`);
  await page.screenshot({ path: file, fullPage: false });
  return file;
}

/** Every place in the page a secret could hide: the markup, input values, storage. */
export async function pageHolds(page: Page, needle: string): Promise<string[]> {
  const where: string[] = [];
  if ((await page.content()).includes(needle)) where.push('content');
  const inPage = await page.evaluate((n) => {
    const hits: string[] = [];
    if (document.body.innerText.includes(n)) hits.push('innerText');
    for (const el of document.querySelectorAll('input, textarea') as Iterable<{ value: string }>) if (el.value.includes(n)) hits.push('input value');
    for (const s of [localStorage, sessionStorage]) for (let i = 0; i < s.length; i++) if ((s.getItem(s.key(i)!) ?? '').includes(n)) hits.push('storage');
    if (document.cookie.includes(n)) hits.push('cookie');
    return hits;
  }, needle);
  return [...where, ...inPage];
}

/** Whether a string is anywhere in the page's JS heap, after a full garbage collection. */
export async function heapHolds(page: Page, needle: string): Promise<boolean> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('HeapProfiler.enable');
  await cdp.send('HeapProfiler.collectGarbage');
  let snapshot = '';
  cdp.on('HeapProfiler.addHeapSnapshotChunk', (e: { chunk: string }) => {
    snapshot += e.chunk;
  });
  await cdp.send('HeapProfiler.takeHeapSnapshot', { reportProgress: false });
  await cdp.detach();
  return snapshot.includes(needle);
}
