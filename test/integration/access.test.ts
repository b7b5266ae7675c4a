/**
 * Self-provisioning (issue 9) over real HTTP: an agent with no token asks for
 * access, the human sees the same code in the CLI and approves with less, the
 * agent's next poll gets a token with exactly what was granted, the token
 * works with the openai SDK, and a second poll gets 410.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AccessRequestEvent } from '../../proxy/core/events.js';
import { DAY_MS } from '../../proxy/core/time.js';
import { bumpGeneration, listAudit, setSetting } from '../../proxy/db/records.js';
import { hashToken } from '../../proxy/tokens/format.js';
import { runCli } from '../helpers/cli.js';
import { errorOf, startStack, type Stack } from '../helpers/stack.js';

let s: Stack;
const events: AccessRequestEvent[] = [];
beforeAll(async () => {
  // The flood limits get a stack of their own (below); here many requests come from one frozen minute.
  s = await startStack({ daemon: { access: { pollIntervalS: 1, maxPerMinute: 100, maxPending: 100 } } });
  s.daemon.events.on('access_request', (e) => events.push(e));
});
afterAll(async () => {
  await s?.close();
});

interface Created {
  request_id: string;
  user_code: string;
  poll_url: string;
  expires_at: string;
  interval: number;
  status: string;
}

function ask(body: unknown, base = s.baseURL): Promise<Response> {
  return fetch(`${base}/agents/request-access`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
}

/** Resolves with the first access_request event (already seen or still to come) matching. */
function eventFor(requestId: string, kind: AccessRequestEvent['kind'], timeoutMs = 5000): Promise<AccessRequestEvent> {
  const seen = events.find((e) => e.request_id === requestId && e.kind === kind);
  if (seen) return Promise.resolve(seen);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${kind} event for ${requestId}; saw ${JSON.stringify(events)}`)), timeoutMs);
    const on = (e: AccessRequestEvent) => {
      if (e.request_id !== requestId || e.kind !== kind) return;
      clearTimeout(timer);
      s.daemon.events.off('access_request', on);
      resolve(e);
    };
    s.daemon.events.on('access_request', on);
  });
}

const cli = (...args: string[]) => runCli(['--data-dir', s.dataDir, 'requests', ...args]);

describe('the whole flow', () => {
  it('request → same code for the human → approve with less → token with exactly that, once → works with the openai SDK → 410', async () => {
    const res = await ask({ name: 'researcher', scopes: ['models:read', 'models:use', 'billing:read'], monthly_budget: 20, expiration_days: 30, reason: 'summarise papers' });
    expect(res.status).toBe(201);
    const created = (await res.json()) as Created;
    expect(created.status).toBe('pending');
    expect(created.user_code).toMatch(/^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$/);
    expect(created.request_id).toMatch(/^areq_[0-9A-Za-z]{20}$/);
    expect(created.poll_url).toMatch(new RegExp(`^${s.daemon.url}/v1/agents/request-access/${created.request_id}\\?secret=[0-9A-Za-z]{32}$`));
    expect(created.interval).toBe(1);
    expect(Date.parse(created.expires_at) - s.clock.now).toBe(10 * 60_000);
    const pollSecret = new URL(created.poll_url).searchParams.get('secret')!;

    // The tray/dashboard hear of it with the same code.
    expect(await eventFor(created.request_id, 'created')).toEqual({ kind: 'created', request_id: created.request_id, name: 'researcher', user_code: created.user_code });

    // The human's view: the same code, with name, scopes, budget, reason and age.
    const listed = await cli('list', '--json');
    expect(listed.code).toBe(0);
    const shown = (JSON.parse(listed.stdout) as { requests: Array<Record<string, unknown>> }).requests;
    expect(shown).toHaveLength(1);
    expect(shown[0]).toMatchObject({
      id: created.request_id,
      user_code: created.user_code,
      name: 'researcher',
      scopes: ['models:read', 'models:use', 'billing:read'],
      monthly_budget: 20,
      expiration_days: 30,
      reason: 'summarise papers',
      status: 'pending',
    });
    expect(shown[0]!.age_seconds).toEqual(expect.any(Number));
    const table = await cli('list');
    expect(table.stdout).toMatch(new RegExp(`${created.user_code}\\s+researcher\\s+models:read,models:use,billing:read\\s+\\$20\\.00/mo\\s+30d\\s+summarise papers\\s+\\d+s\\s+${created.request_id}`));

    // Pending, with pacing guidance; polling again at once is too fast.
    const p1 = await fetch(created.poll_url);
    expect(p1.status).toBe(200);
    expect(p1.headers.get('retry-after')).toBe('1');
    expect(await p1.json()).toMatchObject({ status: 'pending', request_id: created.request_id, user_code: created.user_code, interval: 1 });
    const fast = await fetch(created.poll_url);
    expect(fast.status).toBe(429);
    expect(fast.headers.get('retry-after')).toBe('1');
    expect((await errorOf(fast)).code).toBe('slow_down');

    // The human approves by the code the agent showed, with a smaller budget, fewer scopes and a shorter life.
    const approved = await cli('approve', created.user_code.toLowerCase(), '--budget', '7.5', '--scopes', 'models:read,models:use', '--expires', '7d', '--json');
    expect(approved.stderr).toBe('');
    expect(JSON.parse(approved.stdout)).toMatchObject({ id: created.request_id, status: 'approved', approved: { scopes: ['models:read', 'models:use'], monthly_budget: 7.5, expiration_days: 7 } });
    // The CLI is another process: the daemon publishes its change from the audit log.
    await eventFor(created.request_id, 'approved');

    // The next poll returns the token, with exactly what was granted.
    const p2 = await fetch(created.poll_url);
    expect(p2.status).toBe(200);
    expect(p2.headers.get('cache-control')).toBe('no-store');
    const got = (await p2.json()) as Record<string, unknown> & { api_key: string; token_id: string; base_url: string };
    expect(got).toMatchObject({ status: 'approved', scopes: ['models:read', 'models:use'], monthly_budget: 7.5, base_url: s.baseURL, name: 'researcher' });
    expect(got.api_key).toMatch(/^sk-sbl-[0-9A-Za-z]{38}$/);
    expect(got.expires_at).toBe(new Date(s.clock.now + 7 * DAY_MS).toISOString());
    const token = s.tokens.require(got.token_id);
    expect(token).toMatchObject({ name: 'researcher', scopes: ['models:read', 'models:use'], budget: 7_500_000, parentId: null, expiresAt: s.clock.now + 7 * DAY_MS });
    expect(s.tokens.findSecret(hashToken(got.api_key))?.token_id).toBe(got.token_id);

    // It works with the openai SDK, and only within what was granted.
    const client = new OpenAI({ apiKey: got.api_key, baseURL: got.base_url, maxRetries: 0 });
    const reply = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi from a self-provisioned agent' }] });
    expect(reply.choices[0]!.message.content).toBe('Echo: hi from a self-provisioned agent');
    expect((await client.models.list()).data.length).toBeGreaterThan(0);
    const balance = await fetch(`${s.baseURL}/balance`, { headers: { authorization: `Bearer ${got.api_key}` } });
    expect(balance.status).toBe(403); // billing:read was asked for but not granted

    // A second poll: gone.
    const p3 = await fetch(created.poll_url);
    expect(p3.status).toBe(410);
    expect((await errorOf(p3)).code).toBe('access_request_used');
    expect((await cli('list', '--all', '--json')).stdout).toContain('"status": "delivered"');

    // Every step is audited (the human's approval came through the CLI, so it reads as the CLI's), and no secret is anywhere in the audit log, the database or its WAL.
    const trail = listAudit(s.daemon.db, { limit: 50 }).reverse();
    const mine = trail.filter((a) => a.detail.request_id === created.request_id || a.token_id === got.token_id);
    expect(mine.map((a) => `${a.actor} ${a.event}`)).toEqual(['agent access.create', 'cli access.approve', 'cli token.create', 'agent access.collect']);
    expect(mine[1]!.detail).toMatchObject({ monthly_budget_micros: 7_500_000, requested: { monthly_budget_micros: 20_000_000 } });
    const files = ['sidecar.db', 'sidecar.db-wal'].map((f) => readFileSync(join(s.dataDir, f)));
    for (const secret of [got.api_key, pollSecret]) {
      expect(JSON.stringify(trail)).not.toContain(secret);
      for (const f of files) expect(f.includes(secret)).toBe(false);
    }
  });
});

describe('asking', () => {
  it('needs no token, and refuses bad fields with a 400 naming the field', async () => {
    const good = { name: 'a', scopes: ['models:read'], monthly_budget: 1 };
    const cases: Array<[Record<string, unknown>, string, RegExp]> = [
      [{ name: 'a', scopes: ['models:read'] }, 'monthly_budget', /required/],
      [{ ...good, monthly_budget: 0 }, 'monthly_budget', /more than 0/],
      [{ ...good, monthly_budget: -3 }, 'monthly_budget', /more than 0/],
      // Text is held to the one money rule (wire/fields.ts), as on the admin API: plain decimals only.
      [{ ...good, monthly_budget: '0x10' }, 'monthly_budget', /not an amount/],
      [{ ...good, monthly_budget: true }, 'monthly_budget', /number/],
      [{ ...good, scopes: ['models:fly'] }, 'scopes', /unknown scope "models:fly"/],
      [{ ...good, scopes: [] }, 'scopes', /at least one/],
      [{ ...good, name: '' }, 'name', /required/],
      [{ ...good, name: 'evil\u001b[2J' }, 'name', /printable/],
      [{ ...good, reason: 'looks fine\u202egnp.exe' }, 'reason', /printable/],
      [{ ...good, expiration_days: 400 }, 'expiration_days', /365/],
      // Unknown fields are named as the field itself, as everywhere input is validated (core/validate.ts).
      [{ ...good, admin: true }, 'admin', /unknown field/],
    ];
    for (const [body, field, message] of cases) {
      const res = await ask(body);
      const e = (await res.json()) as { error: { code: string; details: Record<string, string> } };
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(e.error.code).toBe('invalid_request');
      const detail = e.error.details[field] ?? Object.values(e.error.details).join(' ');
      expect(detail, JSON.stringify(e)).toMatch(message);
    }
    const notJson = await fetch(`${s.baseURL}/agents/request-access`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"name":' });
    expect(notJson.status).toBe(400);
    // Access requests are small: 16 KB at most, whatever the general body limit.
    expect((await ask({ ...good, reason: 'x'.repeat(20_000) })).status).toBe(413);
    // Nothing reached the human.
    expect(s.daemon.access.listPending().filter((r) => r.name === 'a')).toHaveLength(0);
  });

  it('is refused while the human has paused all agents', async () => {
    setSetting(s.daemon.db, 'paused', true);
    bumpGeneration(s.daemon.db, 'settings');
    await Promise.resolve(); // the daemon hears of its own change right after the current job
    try {
      const res = await ask({ name: 'during-pause', scopes: ['models:read'], monthly_budget: 1 });
      expect(res.status).toBe(503);
      expect((await errorOf(res)).code).toBe('sidecar_paused');
    } finally {
      setSetting(s.daemon.db, 'paused', false);
      bumpGeneration(s.daemon.db, 'settings');
      await Promise.resolve();
    }
    expect((await ask({ name: 'after-pause', scopes: ['models:read'], monthly_budget: 1 })).status).toBe(201);
  });

  it('polling with a wrong or missing secret, or an unknown id, is 404 alike', async () => {
    const created = (await (await ask({ name: 'prober', scopes: ['models:read'], monthly_budget: 1 })).json()) as Created;
    const base = created.poll_url.split('?')[0]!;
    for (const url of [base, `${base}?secret=${'A'.repeat(32)}`, `${s.baseURL}/agents/request-access/areq_${'x'.repeat(20)}?secret=${'A'.repeat(32)}`]) {
      const res = await fetch(url);
      expect(res.status, url).toBe(404);
      expect((await errorOf(res)).code).toBe('access_request_not_found');
    }
    s.daemon.access.deny(created.request_id, {}, 'test');
  });

  it('the human cannot grant more than was asked', async () => {
    const created = (await (await ask({ name: 'greedy-human', scopes: ['models:read'], monthly_budget: 2, expiration_days: 10 })).json()) as Created;
    let err: unknown;
    try {
      s.daemon.access.approve(created.request_id, { scopes: ['models:read', 'models:use'], budget: 3_000_000, expirationDays: 11 }, 'admin');
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ status: 400, code: 'approval_exceeds_request' });
    expect(Object.keys((err as { details: object }).details).sort()).toEqual(['expiration_days', 'monthly_budget', 'scopes']);
    const viaCli = await cli('approve', created.request_id, '--budget', '2.01');
    expect(viaCli.code).toBe(1);
    expect(viaCli.stderr).toMatch(/monthly_budget: the agent asked for 2 USD a month; grant that or less/);
    expect(s.daemon.access.get(created.request_id)?.status).toBe('pending');
    s.daemon.access.deny(created.user_code, { reason: 'test over' }, 'test');
  });
});

describe('answers other than yes', () => {
  it('denied: said once (200 status denied, with the reason), then 410', async () => {
    const created = (await (await ask({ name: 'unwanted', scopes: ['models:use'], monthly_budget: 1 })).json()) as Created;
    const denied = await cli('deny', created.user_code, '--reason', 'not today');
    expect(denied.stdout).toContain(`Denied ${created.request_id}`);
    await eventFor(created.request_id, 'denied');
    const p1 = await fetch(created.poll_url);
    expect(p1.status).toBe(200);
    expect(await p1.json()).toMatchObject({ status: 'denied', reason: 'not today' });
    const p2 = await fetch(created.poll_url);
    expect(p2.status).toBe(410);
    expect((await errorOf(p2)).code).toBe('access_request_closed');
    expect(s.tokens.list().some((t) => t.name === 'unwanted')).toBe(false);
    const approveLate = await cli('approve', created.request_id);
    expect(approveLate.stderr).toMatch(/already denied/);
  });

  it('unanswered: expires after ten minutes (410, an event, audited) and can no longer be approved', async () => {
    const created = (await (await ask({ name: 'patient', scopes: ['models:read'], monthly_budget: 1 })).json()) as Created;
    s.clock.now += 10 * 60_000 + 1;
    s.daemon.access.sweep();
    await eventFor(created.request_id, 'expired');
    const res = await fetch(created.poll_url);
    expect(res.status).toBe(410);
    expect((await errorOf(res)).code).toBe('access_request_expired');
    expect(() => s.daemon.access.approve(created.request_id, {}, 'admin')).toThrow(/already expired/);
    expect(listAudit(s.daemon.db).find((a) => a.event === 'access.expire' && a.detail.request_id === created.request_id)?.detail).toMatchObject({ was: 'pending', user_code: created.user_code });
  });

  it('approved but never collected: expires too, and no token is ever minted', async () => {
    const created = (await (await ask({ name: 'forgetful', scopes: ['models:read'], monthly_budget: 1 })).json()) as Created;
    s.daemon.access.approve(created.request_id, {}, 'admin');
    s.clock.now += 10 * 60_000 + 1;
    const res = await fetch(created.poll_url);
    expect(res.status).toBe(410);
    expect(s.tokens.list().some((t) => t.name === 'forgetful')).toBe(false);
    expect(s.daemon.access.get(created.request_id)?.status).toBe('expired');
  });
});

describe('a restart between approval and the poll', () => {
  it('loses nothing: the token is minted at the first poll, by the new daemon', async () => {
    const stack = await startStack({ daemon: { access: { pollIntervalS: 1 } } });
    try {
      const created = (await (await ask({ name: 'survivor', scopes: ['models:read'], monthly_budget: 3 }, stack.baseURL)).json()) as Created;
      stack.daemon.access.approve(created.request_id, { budget: 1_000_000 }, 'admin');
      await stack.daemon.close();
      const { startDaemon } = await import('../../proxy/server/daemon.js');
      const again = await startDaemon({ dataDir: stack.dataDir, port: 0, upstreamUrl: stack.sim.url, keyStore: stack.keyStore, clock: stack.clock, syncIntervalMs: 0 });
      try {
        const pollUrl = created.poll_url.replace(stack.daemon.url, again.url);
        const res = await fetch(pollUrl);
        expect(res.status).toBe(200);
        const got = (await res.json()) as { api_key: string; monthly_budget: number };
        expect(got.monthly_budget).toBe(1);
        const models = await fetch(`${again.url}/v1/models`, { headers: { authorization: `Bearer ${got.api_key}` } });
        expect(models.status).toBe(200);
        expect((await fetch(pollUrl)).status).toBe(410);
      } finally {
        await again.close();
      }
    } finally {
      await stack.close();
    }
  });
});

describe('flood limits', () => {
  it('at most 3 new requests a minute, 2 pending per name, 5 pending in all (429 with Retry-After)', async () => {
    const f = await startStack({ daemon: { access: { pollIntervalS: 1 } } });
    try {
      const req = (name: string) => ask({ name, scopes: ['models:read'], monthly_budget: 1 }, f.baseURL);
      for (const name of ['a', 'b', 'A']) expect((await req(name)).status).toBe(201);
      const perMinute = await req('c');
      expect(perMinute.status).toBe(429);
      expect(Number(perMinute.headers.get('retry-after'))).toBe(60);
      expect((await errorOf(perMinute)).code).toBe('too_many_access_requests');

      f.clock.now += 61_000;
      const perName = await req('a');
      expect(perName.status).toBe(429);
      expect((await errorOf(perName)).code).toBe('too_many_pending_for_name');
      for (const name of ['c', 'd']) expect((await req(name)).status).toBe(201);

      f.clock.now += 61_000;
      const total = await req('e');
      expect(total.status).toBe(429);
      expect((await errorOf(total)).code).toBe('too_many_pending_requests');
      // Retry soon rather than at the oldest's expiry (478 s away): the human may clear a flood at any moment (issue 17).
      expect(Number(total.headers.get('retry-after'))).toBe(30);
      expect(f.daemon.access.listPending()).toHaveLength(5);

      // Answering one makes room.
      f.daemon.access.deny(f.daemon.access.listPending()[0]!.id, {}, 'admin');
      expect((await req('e')).status).toBe(201);
    } finally {
      await f.close();
    }
  });
});
