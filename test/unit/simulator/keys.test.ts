import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator } from '../../../proxy/simulator/index.js';
import { ADMIN_KEY, api } from './helpers.js';

const DAY = 24 * 60 * 60 * 1000;
const T0 = Date.parse('2026-01-15T12:00:00.000Z');
let now = T0;
let sim: Simulator;
beforeEach(async () => {
  now = T0;
  sim = await startSimulator({ apiKey: ADMIN_KEY, clock: () => now });
});
afterEach(async () => {
  await sim.close();
});

const chat = (key: string, model = 'gpt-4o-mini', content = 'hello') =>
  api(sim, 'POST', '/chat/completions', { key, body: { model, messages: [{ role: 'user', content }] } });

describe('child keys', () => {
  it('creates a scoped, budgeted key through /v1/api-keys', async () => {
    const r = await api(sim, 'POST', '/api-keys', {
      body: { name: 'Research', scopes: ['models:read', 'models:use', 'billing:read'], monthly_budget: 50, expiration_days: 30 },
    });
    expect(r.status).toBe(200);
    expect(r.json.id).toMatch(/^key_/);
    expect(r.json.api_key).toMatch(/^sk-sim-/);
    expect(r.json).toMatchObject({ name: 'Research', scopes: ['models:read', 'models:use', 'billing:read'], monthly_budget: 50 });
    expect(r.json.created_at).toBe(new Date(T0).toISOString());
    expect(r.json.expires_at).toBe(new Date(T0 + 30 * DAY).toISOString());
    expect((await chat(r.json.api_key)).status).toBe(200);
  });

  it('validates the body and refuses scopes the caller lacks', async () => {
    expect((await api(sim, 'POST', '/api-keys', { body: { scopes: ['models:read'] } })).status).toBe(400);
    expect((await api(sim, 'POST', '/api-keys', { body: { name: 'x', scopes: ['models:fly'] } })).status).toBe(400);
    expect((await api(sim, 'POST', '/api-keys', { body: { name: 'x', scopes: ['models:read'], monthly_budget: -1 } })).status).toBe(400);
    const parent = await api(sim, 'POST', '/api-keys', { body: { name: 'p', scopes: ['agents:create', 'models:read'] } });
    const r = await api(sim, 'POST', '/api-keys', { key: parent.json.api_key, body: { name: 'c', scopes: ['models:use'] } });
    expect(r.status).toBe(403);
    expect(r.json.error.type).toBe('permission_error');
  });

  it('creates children with parent_id and a budget no larger than the parent', async () => {
    const parent = await api(sim, 'POST', '/agents/create-child', {
      body: { child_name: 'Parent', child_budget: 25, scopes: ['agents:create', 'models:use', 'billing:read'], expiration_days: 30 },
    });
    expect(parent.status).toBe(200);
    expect(parent.json.parent_id).toBe('key_admin');
    const pk = parent.json.api_key as string;
    const tooBig = await api(sim, 'POST', '/agents/create-child', { key: pk, body: { child_name: 'c', child_budget: 26, scopes: ['models:use'] } });
    expect(tooBig.status).toBe(403);
    const ok = await api(sim, 'POST', '/agents/create-child', { key: pk, body: { child_name: 'c', child_budget: 10, scopes: ['models:use'] } });
    expect(ok.status).toBe(200);
    expect(ok.json.parent_id).toBe(parent.json.id);
    expect((await api(sim, 'POST', '/agents/create-child', { key: pk, body: { child_name: 'c', scopes: ['models:use'] } })).status).toBe(400);
  });

  it('answers 402 when a child would pass its monthly budget, and reports its spend', async () => {
    const c = await api(sim, 'POST', '/api-keys', { body: { name: 'tight', scopes: ['models:use', 'billing:read'], monthly_budget: 0.0005 } });
    const key = c.json.api_key as string;
    const first = await chat(key, 'claude-4-5-sonnet', 'hi'); // ~ (prompt + completion) × 15 micro-dollars < 500
    expect(first.status).toBe(200);
    const spent = first.json.usage.total_tokens * 15;
    const bal = await api(sim, 'GET', '/balance', { key });
    expect(bal.json).toMatchObject({ monthly_budget: 0.0005, spent: spent / 1e6, spent_micros: spent });
    const big = await chat(key, 'claude-4-5-sonnet', 'word '.repeat(200));
    expect(big.status).toBe(402);
    expect(big.json.error.type).toBe('insufficient_quota');
    // the spend resets with the calendar month
    now = Date.parse('2026-02-01T00:00:00Z');
    expect((await api(sim, 'GET', '/balance', { key })).json.spent).toBe(0);
  });

  it('revokes descendants (and their subtree) by key or id, refusing non-descendants', async () => {
    const a = await api(sim, 'POST', '/api-keys', { body: { name: 'a', scopes: ['agents:create', 'models:use'] } });
    const b = await api(sim, 'POST', '/api-keys', { key: a.json.api_key, body: { name: 'b', scopes: ['models:use'] } });
    const other = await api(sim, 'POST', '/api-keys', { body: { name: 'o', scopes: ['agents:create', 'models:use'] } });
    expect((await api(sim, 'DELETE', `/agents/${b.json.id}/revoke`, { key: other.json.api_key })).status).toBe(403);
    expect((await api(sim, 'DELETE', `/agents/${a.json.id}/revoke`, { key: a.json.api_key })).status).toBe(403);
    expect((await api(sim, 'DELETE', '/agents/key_nope/revoke')).status).toBe(404);
    const r = await api(sim, 'DELETE', `/agents/${a.json.api_key}/revoke`);
    expect(r.status).toBe(200);
    expect(r.json).toEqual({ revoked: true, id: a.json.id });
    for (const key of [a.json.api_key, b.json.api_key]) {
      const x = await chat(key);
      expect(x.status).toBe(401);
      expect(x.json.error.message).toMatch(/revoked/);
    }
    expect((await chat(other.json.api_key)).status).toBe(200);
  });

  it('expires keys by the clock', async () => {
    const c = await api(sim, 'POST', '/api-keys', { body: { name: 'e', scopes: ['models:use'], expiration_days: 1 } });
    expect((await chat(c.json.api_key)).status).toBe(200);
    now += DAY;
    const r = await chat(c.json.api_key);
    expect(r.status).toBe(401);
    expect(r.json.error.message).toMatch(/expired/);
  });
});

describe('rotation', () => {
  it('rotates the admin key with a 7-day grace for the old one', async () => {
    const child = await api(sim, 'POST', '/api-keys', { body: { name: 'kid', scopes: ['models:use'] } });
    const r = await api(sim, 'POST', '/api-keys/rotate');
    expect(r.status).toBe(200);
    const newKey = r.json.new_api_key as string;
    expect(newKey).toMatch(/^sk-sim-/);
    expect(newKey).not.toBe(ADMIN_KEY);
    expect(sim.adminKey()).toBe(newKey);
    expect(r.json.old_key_expires_at).toBe(new Date(T0 + 7 * DAY).toISOString());
    // old key: ordinary calls still work in the grace period, key management does not
    expect((await api(sim, 'GET', '/models', { key: ADMIN_KEY })).status).toBe(200);
    expect((await api(sim, 'POST', '/api-keys/rotate', { key: ADMIN_KEY })).status).toBe(403);
    now = T0 + 7 * DAY - 1;
    expect((await api(sim, 'GET', '/models', { key: ADMIN_KEY })).status).toBe(200);
    now = T0 + 7 * DAY;
    const old = await api(sim, 'GET', '/models', { key: ADMIN_KEY });
    expect(old.status).toBe(401);
    expect(old.json.error.message).toMatch(/rotated/);
    // same identity: children and scopes stay
    expect((await api(sim, 'GET', '/balance', { key: newKey })).status).toBe(200);
    expect((await chat(child.json.api_key)).status).toBe(200);
    expect((await api(sim, 'DELETE', `/agents/${child.json.id}/revoke`, { key: newKey })).status).toBe(200);
  });

  it('rotates a child key and enables auto-rotation', async () => {
    const c = await api(sim, 'POST', '/api-keys', { body: { name: 'kid', scopes: ['models:use'] } });
    const r = await api(sim, 'POST', '/api-keys/rotate', { key: c.json.api_key });
    expect(r.status).toBe(200);
    expect(sim.adminKey()).toBe(ADMIN_KEY);
    expect((await chat(r.json.new_api_key)).status).toBe(200);
    const a = await api(sim, 'POST', '/api-keys/auto-rotate', {
      key: r.json.new_api_key,
      body: { rotation_interval_days: 90, webhook_url: 'http://127.0.0.1:9/hook' },
    });
    expect(a.json).toEqual({
      enabled: true,
      rotation_interval_days: 90,
      next_rotation_at: new Date(T0 + 90 * DAY).toISOString(),
      webhook_url: 'http://127.0.0.1:9/hook',
    });
    expect((await api(sim, 'POST', '/api-keys/auto-rotate', { body: { rotation_interval_days: 0 } })).status).toBe(400);
  });
});
