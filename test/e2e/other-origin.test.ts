/**
 * A web page on another origin, in the same browser as a signed-in
 * dashboard, can neither read nor change anything: not with credentialed
 * fetch, not with a no-cors "simple" POST, not with a form, not by framing
 * the dashboard. Served from 127.0.0.1 on another port (same-site: the
 * session cookie IS sent, so only the Origin checks stand in the way) and
 * from localhost (cross-site).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Page, Response } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../helpers/stack.js';
import { launch, loginLink, type Browser } from './browser.js';

// Callbacks given to page.evaluate run in the browser, where these exist; the test project has no DOM lib.
declare const document: any, window: any, navigator: any, localStorage: any, sessionStorage: any, getComputedStyle: any; // eslint-disable-line @typescript-eslint/no-explicit-any

let s: Stack;
let browser: Browser;
let dashboard: Page;
let evil: Server;
let evilPort: number;

/** The attacker's page: every way a page can try to reach the admin API, results left in window.results. */
function attackPage(daemon: string): string {
  return `<!doctype html><meta charset="utf-8"><title>totally harmless</title>
<iframe name="sink"></iframe>
<iframe id="frame" src="${daemon}/"></iframe>
<form id="form" method="POST" action="${daemon}/admin/api/tokens" enctype="text/plain" target="sink">
  <input name='{"name":"evil-form","preset":"admin","x":"' value='"}'>
</form>
<form id="form2" method="POST" action="${daemon}/admin/api/logout" target="sink"></form>
<script>
const D = ${JSON.stringify(daemon)};
window.results = {};
async function attempt(name, fn) {
  try { window.results[name] = await fn(); } catch (e) { window.results[name] = 'blocked: ' + e.name; }
}
(async () => {
  await attempt('read', async () => { const r = await fetch(D + '/admin/api/tokens', { credentials: 'include' }); return 'read ' + r.status + ' ' + (await r.text()).slice(0, 200); });
  await attempt('status', async () => { const r = await fetch(D + '/admin/api/status', { credentials: 'include' }); return 'read ' + r.status; });
  await attempt('simplePost', async () => { const r = await fetch(D + '/admin/api/tokens', { method: 'POST', mode: 'no-cors', credentials: 'include', headers: { 'content-type': 'text/plain' }, body: JSON.stringify({ name: 'evil-no-cors', preset: 'admin' }) }); return 'opaque ' + r.type; });
  await attempt('jsonPost', async () => { const r = await fetch(D + '/admin/api/tokens', { method: 'POST', credentials: 'include', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'evil-cors', preset: 'admin' }) }); return 'posted ' + r.status; });
  await attempt('settings', async () => { const r = await fetch(D + '/admin/api/settings', { method: 'PATCH', credentials: 'include', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ upstream_url: 'http://evil.example/v1' }) }); return 'patched ' + r.status; });
  await attempt('key', async () => { const r = await fetch(D + '/admin/api/key', { method: 'PUT', mode: 'no-cors', credentials: 'include', headers: { 'content-type': 'text/plain' }, body: JSON.stringify({ key: 'sk-attacker-controlled-key-0000' }) }); return 'opaque ' + r.type; });
  await attempt('events', () => new Promise((resolve) => { const es = new EventSource(D + '/admin/api/events', { withCredentials: true }); es.onopen = () => resolve('open'); es.onerror = () => { es.close(); resolve('blocked'); }; }));
  document.getElementById('form').submit();
  window.results.done = true;
})();
</script>`;
}

beforeAll(async () => {
  s = await startStack();
  evil = createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(attackPage(s.daemon.url));
  });
  await new Promise<void>((r) => evil.listen(0, '127.0.0.1', r));
  evilPort = (evil.address() as AddressInfo).port;
  browser = await launch();
  dashboard = await browser.context.newPage();
  await dashboard.goto(await loginLink(s.dataDir));
  await dashboard.getByRole('navigation', { name: 'Pages' }).waitFor();
}, 60_000);
afterAll(async () => {
  await browser?.close();
  await new Promise((r) => evil?.close(r));
  await s?.close();
});

function snapshot() {
  return {
    tokens: s.tokens.list().length,
    audit: s.daemon.db.prepare('SELECT count(*) FROM audit').pluck().get(),
    upstream: s.daemon.deps.upstream().baseUrl,
    key: s.keyStore.get(),
  };
}

describe.each([
  ['127.0.0.1 on another port (same-site: the cookie is sent)', '127.0.0.1'],
  ['localhost on another port (cross-site)', 'localhost'],
])('a page on %s', (_label, host) => {
  it('cannot read or change anything', async () => {
    const before = snapshot();
    const page = await browser.context.newPage();
    const toDaemon: Response[] = [];
    const cookieSent: boolean[] = [];
    page.on('response', (r) => {
      if (r.url().startsWith(s.daemon.url)) toDaemon.push(r);
    });
    page.on('request', (r) => {
      if (r.url().startsWith(`${s.daemon.url}/admin/api/`)) void r.allHeaders().then((h) => cookieSent.push('cookie' in h));
    });
    const formDone = page.waitForResponse((r) => r.url() === `${s.daemon.url}/admin/api/tokens` && r.request().method() === 'POST' && r.request().resourceType() === 'document');
    await page.goto(`http://${host}:${evilPort}/`);
    await page.waitForFunction(() => window.results?.done === true, undefined, { timeout: 10_000 });
    const form = await formDone;
    const results = await page.evaluate(() => window.results as Record<string, string>);

    // Reads: the browser hands the page nothing, and the daemon refused anyway.
    expect(results.read).toBe('blocked: TypeError');
    expect(results.status).toBe('blocked: TypeError');
    expect(results.events).toBe('blocked');
    // Writes: the preflighted ones never get sent; the "simple" ones and the form are refused.
    expect(results.jsonPost).toBe('blocked: TypeError');
    expect(results.settings).toBe('blocked: TypeError');
    expect(form.status()).toBe(403);
    for (const r of toDaemon) {
      if (r.url() === `${s.daemon.url}/`) continue; // the framed dashboard: see below
      expect([403], `${r.request().method()} ${r.url()}`).toContain(r.status());
    }
    expect(toDaemon.filter((r) => r.request().method() === 'POST').length).toBeGreaterThanOrEqual(2);
    expect(toDaemon.some((r) => r.request().method() === 'PATCH')).toBe(false);

    // Framing the dashboard is refused: by the Guards (cross-site) or by X-Frame-Options/frame-ancestors (same-site).
    const framed = toDaemon.find((r) => r.url() === `${s.daemon.url}/`)!;
    expect(framed.status() === 403 || (framed.headers()['x-frame-options'] === 'DENY' && framed.headers()['content-security-policy']!.includes("frame-ancestors 'none'"))).toBe(true);
    for (const f of page.frames()) {
      if (f === page.mainFrame()) continue;
      const html = await f.content().catch(() => '');
      expect(html).not.toContain('<div id="root">');
    }

    if (host === '127.0.0.1') expect(cookieSent.some(Boolean)).toBe(true);

    // Nothing changed.
    expect(snapshot()).toEqual(before);
    expect(s.tokens.list().some((t) => t.name.startsWith('evil'))).toBe(false);
    // And the real dashboard is still signed in and working.
    // (With the session's key the dashboard keeps in its own origin's storage, as the dashboard's own requests do.)
    const mine = await dashboard.evaluate(async () => (await fetch('/admin/api/tokens', { headers: { 'x-sidecar-session': localStorage.getItem('sbs-session') } })).status);
    expect(mine).toBe(200);
    await page.close();
  }, 60_000);
});
