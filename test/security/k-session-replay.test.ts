/**
 * Issue 17 item 1: a dashboard session replayed from another loopback port.
 * Browsers send 127.0.0.1 cookies to every port, so a listener on another
 * port that the human's browser visits collects the dashboard's cookie. A
 * non-browser replaying it with a forged Origin must get nothing: the session
 * also needs its key, which only the dashboard page holds (its origin's
 * storage) and sends as a header. Real Chromium, a real second listener.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../helpers/stack.js';
import { launch, loginLink, type Browser } from '../e2e/browser.js';

// Callbacks given to page.evaluate run in the browser, where these exist; the test project has no DOM lib.
declare const localStorage: any; // eslint-disable-line @typescript-eslint/no-explicit-any

let s: Stack;
let browser: Browser;
let dashboard: Page;
let other: Server;
let otherUrl = '';
const seenCookies: string[] = [];

beforeAll(async () => {
  s = await startStack();
  // "A dev server, or a page an agent serves on another port": it only has to be visited once.
  other = createServer((req, res) => {
    seenCookies.push(req.headers.cookie ?? '');
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end('<!doctype html><title>a local dev server</title><p>hello</p>');
  });
  await new Promise<void>((r) => other.listen(0, '127.0.0.1', r));
  otherUrl = `http://127.0.0.1:${(other.address() as AddressInfo).port}/`;
  browser = await launch();
  dashboard = await browser.context.newPage();
}, 60_000);
afterAll(async () => {
  await browser?.close();
  await new Promise((r) => other?.close(r));
  await s?.close();
});

const own = () => `http://127.0.0.1:${s.daemon.port}`;
const signedIn = (p: Page) => p.getByRole('navigation', { name: 'Pages' }).waitFor();

describe('K. session replay from another loopback port (issue 17 item 1)', () => {
  it('K1 the dashboard signs in through the link; the key leaves the URL at once', async () => {
    await dashboard.goto(await loginLink(s.dataDir));
    await signedIn(dashboard);
    expect(dashboard.url()).toBe(`${s.daemon.url}/`);
  });

  it('K2 a cookie collected on another port, replayed with a forged Origin, creates no token, mints no link and opens no stream', async () => {
    const visitor = await browser.context.newPage();
    await visitor.goto(otherUrl);
    const stolen = seenCookies.map((c) => c.split(/;\s*/).find((p) => p.startsWith(`sbs_admin_${s.daemon.port}=`))).find(Boolean);
    // The premise: the browser did hand the other port the dashboard's cookie.
    expect(stolen).toBeDefined();
    // And the page there cannot read the key (other origin, other storage).
    expect(await visitor.evaluate(() => localStorage.length)).toBe(0);
    await visitor.close();

    const before = s.tokens.list().length;
    const forged = { cookie: stolen!, origin: own(), 'sec-fetch-site': 'same-origin', 'content-type': 'application/json' };
    const create = await fetch(`${s.daemon.url}/admin/api/tokens`, { method: 'POST', headers: forged, body: JSON.stringify({ name: 'replayed', preset: 'admin' }) });
    expect(create.status).toBe(401);
    expect(s.tokens.list().length).toBe(before);

    const links = await fetch(`${s.daemon.url}/admin/api/login-links`, { method: 'POST', headers: forged, body: '{}' });
    expect(links.status).toBe(401);
    const read = await fetch(`${s.daemon.url}/admin/api/tokens`, { headers: { cookie: stolen!, origin: own() } });
    expect(read.status).toBe(401);
    const events = await fetch(`${s.daemon.url}/admin/api/events`, { headers: { cookie: stolen!, origin: own() } });
    expect(events.status).toBe(401);
    await events.body?.cancel();
    // A made-up key with the real cookie is no better.
    const guessed = await fetch(`${s.daemon.url}/admin/api/tokens`, { headers: { cookie: stolen!, 'x-sidecar-session': 'A'.repeat(43) } });
    expect(guessed.status).toBe(401);
  });

  it('K3 the dashboard itself keeps working: reload, a second tab, the live feed (a fetch stream with the key)', async () => {
    await dashboard.reload();
    await signedIn(dashboard);
    await dashboard.goto(`${s.daemon.url}/#/requests`);
    await dashboard.locator('.live.on').waitFor();
    const tab = await browser.context.newPage();
    await tab.goto(`${s.daemon.url}/#/tokens`);
    await signedIn(tab);
    await tab.close();
  });

  it('K4 signing out forgets the key; a reload then asks to sign in again', async () => {
    await dashboard.getByRole('button', { name: /sign out|log out/i }).click();
    await dashboard.getByRole('heading', { name: 'Sign in to the sidecar' }).waitFor();
    expect(await dashboard.evaluate(() => localStorage.getItem('sbs-session'))).toBeNull();
  });
});
