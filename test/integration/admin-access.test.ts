/**
 * The admin API's share of issues 8 and 9 against the real daemon and
 * simulator: access requests listed, approved with less (never more) and
 * denied, with the agent's poll getting exactly what was granted and the
 * change on the live event stream; the pause switch flipping the running
 * daemon at once; and a rotation from the dashboard delivered to the token's
 * env sink like the CLI's.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readAdminSecret } from '../../proxy/admin/index.js';
import { DAY_MS } from '../../proxy/core/time.js';
import { listAudit } from '../../proxy/db/records.js';
import { errorOf, startStack, type Stack } from '../helpers/stack.js';
import { sseReader } from '../helpers/sse.js';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

let s: Stack;
let secret: string;
const tmp = mkdtempSync(join(tmpdir(), 'sbs-admin-access-'));

beforeAll(async () => {
  // The Watcher's poll is slowed to an hour: whatever takes effect at once here does so through onLocalChange, not polling.
  s = await startStack({ daemon: { watchIntervalMs: 3_600_000, access: { pollIntervalS: 1, maxPerMinute: 100, maxPending: 100, maxPendingPerName: 10 } } });
  secret = readAdminSecret(s.dataDir);
});
afterAll(async () => {
  await s?.close();
  rmSync(tmp, { recursive: true, force: true });
});

async function api(method: 'GET' | 'POST', path: string, body?: unknown): Promise<{ status: number; json: Json; text: string }> {
  const res = await request(`${s.daemon.url}/admin/api${path}`, {
    method,
    headers: { authorization: `Bearer ${secret}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    body: body === undefined ? null : JSON.stringify(body),
  });
  const text = await res.body.text();
  return { status: res.statusCode, json: text ? (JSON.parse(text) as Json) : {}, text };
}

interface Asked {
  request_id: string;
  user_code: string;
  poll_url: string;
}

async function ask(name: string, extra: Json = {}): Promise<Asked> {
  const res = await fetch(`${s.baseURL}/agents/request-access`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name, scopes: ['models:read', 'models:use', 'billing:read'], monthly_budget: 20, expiration_days: 30, reason: 'summarise papers', ...extra }),
  });
  expect(res.status).toBe(201);
  return (await res.json()) as Asked;
}

async function poll(a: Asked): Promise<{ status: number; json: Json }> {
  const res = await fetch(a.poll_url);
  return { status: res.status, json: (await res.json()) as Json };
}

/** The admin event stream, read frame by frame. */
async function openEvents(): Promise<{ next(kind: string): Promise<Json>; close(): void }> {
  const ac = new AbortController();
  const res = await fetch(`${s.daemon.url}/admin/api/events`, { headers: { authorization: `Bearer ${secret}` }, signal: ac.signal });
  const { until } = sseReader(res);
  await until(/: connected\n\n/);
  return {
    next: async (kind) => JSON.parse((await until(new RegExp(`event: ${kind}\\ndata: (.*)\\n\\n`)))[1]!) as Json,
    close: () => ac.abort(),
  };
}

const chat = (key: string) => new OpenAI({ apiKey: key, baseURL: s.baseURL, maxRetries: 0 }).chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hello' }] });

describe('access requests', () => {
  it('lists a new request with the code the agent got, streams it live, and raises an alert on the overview', async () => {
    const live = await openEvents();
    expect((await api('GET', '/access-requests')).json).toEqual({ data: [], pending: 0 });
    const a = await ask('researcher');
    expect(await live.next('access_request')).toEqual({ kind: 'created', request_id: a.request_id, name: 'researcher', user_code: a.user_code });
    live.close();

    const list = await api('GET', '/access-requests');
    expect(list.status).toBe(200);
    expect(list.json.pending).toBe(1);
    expect(list.json.data).toHaveLength(1);
    expect(list.json.data[0]).toMatchObject({
      id: a.request_id,
      user_code: a.user_code,
      name: 'researcher',
      reason: 'summarise papers',
      status: 'pending',
      scopes: ['models:read', 'models:use', 'billing:read'],
      monthly_budget: 20,
      expiration_days: 30,
      approved: null,
      expires_in_seconds: 600,
    });
    // The poll secret that collects the token is nowhere in what the human's side serves.
    expect(list.text).not.toContain(new URL(a.poll_url).searchParams.get('secret')!);
    expect((await api('GET', `/access-requests/${a.user_code.toLowerCase()}`)).json.id).toBe(a.request_id);

    const status = await api('GET', '/status');
    expect(status.json.access_requests).toEqual({ pending: 1 });
    expect(status.json.alerts[0]).toMatchObject({ kind: 'access_pending', severity: 'warning' });
    await api('POST', `/access-requests/${a.request_id}/deny`, {});
  });

  it('refuses malformed approvals field by field, and more than was asked for', async () => {
    const a = await ask('validator');
    const bad = await api('POST', `/access-requests/${a.request_id}/approve`, { monthly_budget: -1, scopes: ['root:all'], expiration_days: 1.5, colour: 'red' });
    expect(bad.status).toBe(400);
    expect(bad.json.error.code).toBe('invalid_request');
    expect(Object.keys(bad.json.error.details).sort()).toEqual(['colour', 'expiration_days', 'monthly_budget', 'scopes.0']);
    expect(bad.json.error.details.colour).toBe('unknown field');

    const more = await api('POST', `/access-requests/${a.request_id}/approve`, { monthly_budget: 50, scopes: ['models:read', 'agents:create'], expiration_days: 90 });
    expect(more.status).toBe(400);
    expect(more.json.error.code).toBe('approval_exceeds_request');
    expect(Object.keys(more.json.error.details).sort()).toEqual(['expiration_days', 'monthly_budget', 'scopes']);
    expect(more.json.error.details.scopes).toContain('agents:create');

    expect((await api('POST', '/access-requests/ZZZZ-ZZZZ/approve', {})).status).toBe(404);
    expect((await api('POST', `/access-requests/${'x'.repeat(60)}/approve`, {})).status).toBe(400);
    expect((await api('GET', '/access-requests?all=maybe')).json.error.details).toHaveProperty('all');
    expect((await api('POST', `/access-requests/${a.request_id}/deny`, { reason: 'x'.repeat(501) })).status).toBe(400);
    // Nothing above changed the request.
    expect((await api('GET', `/access-requests/${a.request_id}`)).json.status).toBe('pending');
    await api('POST', `/access-requests/${a.request_id}/deny`, {});
  });

  it('approves with less by the code; the next poll gets exactly that token, which works; later polls get 410', async () => {
    const live = await openEvents();
    const a = await ask('summariser');
    await live.next('access_request');
    const r = await api('POST', `/access-requests/${a.user_code}/approve`, { monthly_budget: 2.5, scopes: ['models:read', 'models:use'], expiration_days: 7 });
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ id: a.request_id, status: 'approved', decided_by: 'admin', approved: { scopes: ['models:read', 'models:use'], monthly_budget: 2.5, expiration_days: 7 } });
    expect(await live.next('access_request')).toEqual({ kind: 'approved', request_id: a.request_id, name: 'summariser', user_code: a.user_code });
    live.close();

    const audit = listAudit(s.daemon.db, { limit: 20 }).find((x) => x.event === 'access.approve' && x.detail.request_id === a.request_id)!;
    expect(audit.actor).toBe('admin');
    expect(audit.detail).toMatchObject({ monthly_budget_micros: 2_500_000, requested: { monthly_budget_micros: 20_000_000 } });

    const got = await poll(a);
    expect(got.status).toBe(200);
    expect(got.json).toMatchObject({ status: 'approved', scopes: ['models:read', 'models:use'], monthly_budget: 2.5 });
    expect(Date.parse(got.json.expires_at) - s.clock.now).toBe(7 * DAY_MS);
    const token = s.tokens.get(got.json.token_id)!;
    expect(token).toMatchObject({ name: 'summariser', scopes: ['models:read', 'models:use'], budget: 2_500_000, parentId: null });

    const reply = await chat(got.json.api_key);
    expect(reply.choices[0]!.message.content).toBe('Echo: hello');
    // billing:read was not granted.
    expect((await fetch(`${s.baseURL}/balance`, { headers: { authorization: `Bearer ${got.json.api_key}` } })).status).toBe(403);
    expect((await poll(a)).status).toBe(410);

    const again = await api('POST', `/access-requests/${a.request_id}/approve`, {});
    expect(again.status).toBe(409);
    expect(again.json.error.code).toBe('access_request_not_pending');
  });

  it('denies with a reason; the poll says so once', async () => {
    const a = await ask('scraper');
    const r = await api('POST', `/access-requests/${a.request_id}/deny`, { reason: 'not this week' });
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ status: 'denied', deny_reason: 'not this week', decided_by: 'admin' });
    const got = await poll(a);
    expect(got.json).toMatchObject({ status: 'denied', reason: 'not this week' });
    expect(got.json).not.toHaveProperty('api_key');
    expect((await poll(a)).status).toBe(410);
    expect(listAudit(s.daemon.db, { limit: 20 }).find((x) => x.event === 'access.deny' && x.detail.request_id === a.request_id)!.actor).toBe('admin');

    const all = await api('GET', '/access-requests?all=1');
    expect(all.json.pending).toBe(0);
    expect(all.json.data.map((x: Json) => x.status)).toEqual(expect.arrayContaining(['denied', 'delivered']));
  });
});

describe('pause', () => {
  it('stops every agent call at once and lets them through again on resume', async () => {
    const t = s.token({ name: 'pausable' });
    expect((await chat(t.secret)).choices).toHaveLength(1);

    const p = await api('POST', '/pause', { paused: true });
    expect(p.json).toEqual({ paused: true, changed: true });
    const blocked = await fetch(`${s.baseURL}/models`, { headers: { authorization: `Bearer ${t.secret}` } });
    expect(await errorOf(blocked)).toMatchObject({ status: 503, code: 'sidecar_paused' });
    expect((await api('GET', '/status')).json).toMatchObject({ paused: true, alerts: expect.arrayContaining([expect.objectContaining({ kind: 'paused' })]) });
    expect((await api('POST', '/pause', { paused: true })).json).toEqual({ paused: true, changed: false });

    expect((await api('POST', '/pause', { paused: false })).json).toEqual({ paused: false, changed: true });
    expect((await chat(t.secret)).choices).toHaveLength(1);
    const events = listAudit(s.daemon.db, { limit: 10 }).filter((a) => a.event.startsWith('agents.'));
    expect(events.map((a) => [a.event, a.actor])).toEqual([
      ['agents.resume', 'admin'],
      ['agents.pause', 'admin'],
    ]);
  });

  it('wants a boolean and nothing else', async () => {
    const r = await api('POST', '/pause', { paused: 'yes', all: true });
    expect(r.status).toBe(400);
    expect(Object.keys(r.json.error.details).sort()).toEqual(['all', 'paused']);
    expect((await api('GET', '/status')).json.paused).toBe(false);
  });
});

describe('rotation from the dashboard', () => {
  it('rewrites the token\'s env sink, like the CLI and the agent\'s own rotate', async () => {
    const t = s.token({ name: 'env-agent' });
    const sink = join(tmp, 'agent.env');
    s.tokens.setMeta(t.token.id, { envSink: sink });
    const r = await api('POST', `/tokens/${t.token.id}/rotate`, {});
    expect(r.status).toBe(200);
    const env = readFileSync(sink, 'utf8');
    expect(env).toContain(`OPENAI_API_KEY=${r.json.secret}\n`);
    expect(env).toContain(`OPENAI_BASE_URL=${s.baseURL}\n`);
    expect(env).not.toContain(t.secret);
    expect(listAudit(s.daemon.db, { tokenId: t.token.id, limit: 5 }).map((a) => a.event)).toContain('token.env_sink');
    // What the file holds works.
    expect((await chat(/OPENAI_API_KEY=(\S+)/.exec(env)![1]!)).choices).toHaveLength(1);
  });
});
