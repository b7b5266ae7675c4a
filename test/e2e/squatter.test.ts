/**
 * Issue 25 item 5: a port squatter inherits nothing. A signed-in dashboard
 * keeps calling its daemon while the daemon is down; another local user who
 * binds the freed port meanwhile receives those calls with the cookie and the
 * session's key. Once the daemon is back, what the squatter collected must be
 * worth nothing: sessions belong to the daemon instance that made them, so a
 * restart ends them all. The human signs in again with a fresh link. And the
 * key handed over in the fragment, and the login nonce, leave the page's
 * URL and its history entries the moment the page reads them.
 * Real Chromium, a real squatting listener on the daemon's own port.
 */
import { createServer, type Server } from 'node:http';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startDaemon, type Daemon } from '../../proxy/server/daemon.js';
import { startStack, type Stack } from '../helpers/stack.js';
import { launch, loginLink, type Browser } from './browser.js';

// Callbacks given to page.evaluate run in the browser, where these exist; the test project has no DOM lib.
declare const localStorage: any; // eslint-disable-line @typescript-eslint/no-explicit-any

let s: Stack;
let browser: Browser;
let page: Page;
let again: Daemon | undefined;
let port = 0;

beforeAll(async () => {
  s = await startStack();
  port = s.daemon.port;
  browser = await launch();
  page = await browser.context.newPage();
}, 60_000);
afterAll(async () => {
  await browser?.close();
  await again?.close();
  await s?.close();
});

const signedIn = (p: Page) => p.getByRole('navigation', { name: 'Pages' }).waitFor();

describe('S. a port squatter gets no session (issue 25 item 5)', () => {
  let link = '';

  it('S1 signing in leaves neither the key nor the nonce in the URL or in any history entry', async () => {
    link = await loginLink(s.dataDir);
    await page.goto(link);
    await signedIn(page);
    await page.goto(`${s.daemon.url}/#/requests`);
    await page.locator('.live.on').waitFor();
    const key = (await page.evaluate(() => localStorage.getItem('sbs-session'))) as string;
    expect(key).toMatch(/^[0-9A-Za-z]{43}$/);
    const nonce = new URL(link).searchParams.get('nonce')!;
    const cdp = await page.context().newCDPSession(page);
    const { entries } = (await cdp.send('Page.getNavigationHistory')) as { entries: Array<{ url: string }> };
    await cdp.detach();
    for (const url of [page.url(), ...entries.map((e) => e.url)]) {
      expect(url).not.toContain(key);
      expect(url).not.toContain(nonce);
      expect(url).not.toContain('sbs-session');
      expect(url).not.toContain('sbs-claim');
    }
  });

  it('S2 a squatter on the port while the daemon is down collects the cookie and key; after the restart they open nothing', async () => {
    await s.daemon.close();
    const seen: Array<{ cookie: string; key: string }> = [];
    const squatter: Server = createServer((req, res) => {
      const key = req.headers['x-sidecar-session'];
      if (typeof key === 'string') seen.push({ cookie: req.headers.cookie ?? '', key });
      res.writeHead(503).end();
    });
    await new Promise<void>((r) => squatter.listen(port, '127.0.0.1', r));
    try {
      // The premise: the dashboard keeps calling and hands the squatter both halves of its session.
      await vi.waitFor(() => expect(seen.length).toBeGreaterThan(0), { timeout: 20_000, interval: 100 });
    } finally {
      // Its connections end first: close() alone waits for a browser's open keep-alive connection.
      const closed = new Promise((r) => squatter.close(r));
      squatter.closeAllConnections();
      await closed;
    }
    const stolen = seen[0]!;
    expect(stolen.cookie).toContain(`sbs_admin_${port}=`);

    again = await startDaemon({ dataDir: s.dataDir, port, upstreamUrl: s.sim.url, keyStore: s.keyStore, clock: s.clock, syncIntervalMs: 0 });
    const url = `http://127.0.0.1:${port}`;
    const replay = { cookie: stolen.cookie, 'x-sidecar-session': stolen.key, origin: url, 'sec-fetch-site': 'same-origin' };
    expect((await fetch(`${url}/admin/api/tokens`, { headers: replay })).status).toBe(401);
    const before = (again.db.prepare('SELECT COUNT(*) FROM tokens').pluck().get() as number);
    const mint = await fetch(`${url}/admin/api/tokens`, { method: 'POST', headers: { ...replay, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'squatted', preset: 'admin' }) });
    expect(mint.status).toBe(401);
    expect(again.db.prepare('SELECT COUNT(*) FROM tokens').pluck().get()).toBe(before);
    expect((await fetch(`${url}/admin/api/login-links`, { method: 'POST', headers: { ...replay, 'content-type': 'application/json' }, body: '{}' })).status).toBe(401);
  }, 60_000);

  it('S3 the dashboard itself asks to sign in again, and a fresh link signs it in', async () => {
    await page.reload();
    await page.getByRole('heading', { name: 'Sign in to the sidecar' }).waitFor();
    await page.goto(await loginLink(s.dataDir));
    await signedIn(page);
  });

  it('S4 the login fragment works once: the same /#sbs-claim=… opened again (from history, or by whoever saw it) gets no session', async () => {
    const locations: string[] = [];
    const seen = (r: { status(): number; headers(): Record<string, string> }) => {
      if (r.status() === 303) locations.push(r.headers().location ?? '');
    };
    page.on('response', seen);
    await page.goto(await loginLink(s.dataDir));
    await signedIn(page);
    page.off('response', seen);
    const fragment = locations.find((l) => l.includes('#sbs-claim='))!;
    expect(fragment).toMatch(/^\/#sbs-claim=[0-9A-Za-z]{43}$/);
    const first = (await page.evaluate(() => localStorage.getItem('sbs-session'))) as string;
    expect(first).toMatch(/^[0-9A-Za-z]{43}$/);
    // The same browser, its cookie still set, the key forgotten: the fragment again gives nothing.
    await page.evaluate(() => localStorage.clear());
    await page.goto('about:blank'); // a fresh load of the page, not a same-document hash change
    await page.goto(`http://127.0.0.1:${port}${fragment}`);
    await page.getByRole('heading', { name: 'Sign in to the sidecar' }).waitFor();
    expect(await page.evaluate(() => localStorage.getItem('sbs-session'))).toBeNull();
    expect(page.url()).not.toContain('sbs-claim');
  });
});
