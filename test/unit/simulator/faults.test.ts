import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator } from '../../../proxy/simulator/index.js';
import { ADMIN_KEY, api, eventually, readSse, send } from './helpers.js';

let sim: Simulator;
beforeEach(async () => {
  sim = await startSimulator({ apiKey: ADMIN_KEY });
});
afterEach(async () => {
  await sim.close();
});

const streamBody = (content = 'one two three four five six seven', extra: Record<string, unknown> = {}) => ({
  model: 'gpt-4o-mini',
  stream: true,
  messages: [{ role: 'user', content }],
  ...extra,
});

describe('faults', () => {
  it('failNext answers the next N requests with the status, error body and Retry-After', async () => {
    sim.faults.failNext = { count: 2, status: 429, retryAfter: 3 };
    for (let i = 0; i < 2; i++) {
      const r = await api(sim, 'GET', '/models', { key: null });
      expect(r.status).toBe(429);
      expect(r.headers.get('retry-after')).toBe('3');
      expect(r.json.error.type).toBe('rate_limit_error');
    }
    expect(sim.faults.failNext).toBeUndefined();
    expect((await api(sim, 'GET', '/models')).status).toBe(200);
    sim.faults.failNext = { count: 1, status: 503, body: { custom: true } };
    const r = await api(sim, 'GET', '/models');
    expect(r.status).toBe(503);
    expect(r.json).toEqual({ custom: true });
    expect(r.headers.get('retry-after')).toBeNull();
  });

  it('failNext with a path fails only that route, and other requests leave its count alone', async () => {
    sim.faults.failNext = { count: 1, status: 502, path: '/v1/balance' };
    expect((await api(sim, 'GET', '/models')).status).toBe(200);
    expect(sim.faults.failNext).toBeDefined();
    expect((await api(sim, 'GET', '/balance')).status).toBe(502);
    expect(sim.faults.failNext).toBeUndefined();
    expect((await api(sim, 'GET', '/balance')).status).toBe(200);
  });

  it('dropAfterChunks tears the stream down after that many chunks, charging only what was delivered', async () => {
    sim.faults.dropAfterChunks = 3;
    const before = sim.balanceMicros();
    const res = await send(sim, 'POST', '/chat/completions', { body: streamBody() });
    expect(res.status).toBe(200);
    const s = await readSse(res);
    expect(s.error).toBeDefined();
    expect(s.raw).toHaveLength(3);
    expect(s.raw).not.toContain('[DONE]');
    const full = before - sim.balanceMicros();
    expect(full).toBeGreaterThan(0);
    delete sim.faults.dropAfterChunks;
    const before2 = sim.balanceMicros();
    const ok = await readSse(await send(sim, 'POST', '/chat/completions', { body: streamBody() }));
    expect(ok.raw.at(-1)).toBe('[DONE]');
    expect(before2 - sim.balanceMicros()).toBeGreaterThan(full);
  });

  it('latencyMs delays responses and chunkDelayMs spaces stream chunks', async () => {
    sim.faults.latencyMs = 120;
    let t = performance.now();
    expect((await api(sim, 'GET', '/models')).status).toBe(200);
    expect(performance.now() - t).toBeGreaterThanOrEqual(110);
    sim.faults = { chunkDelayMs: 25 };
    t = performance.now();
    const s = await readSse(await send(sim, 'POST', '/chat/completions', { body: streamBody() }));
    expect(s.raw.length).toBeGreaterThanOrEqual(9);
    expect(performance.now() - t).toBeGreaterThanOrEqual((s.raw.length - 1) * 25 * 0.9);
  });

  it('hang never answers, and close() still returns', async () => {
    sim.faults.hang = true;
    const err = await send(sim, 'GET', '/models', { signal: AbortSignal.timeout(150) }).catch((e: unknown) => e);
    expect((err as Error).name).toBe('TimeoutError');
    const pending = send(sim, 'GET', '/models').catch((e: unknown) => e);
    await eventually(() => sim.requests.length === 2);
    await sim.close();
    expect(await pending).toBeInstanceOf(Error);
  });

  it('garbage answers 200 with a non-JSON application/json body', async () => {
    sim.faults.garbage = true;
    const r = await api(sim, 'POST', '/chat/completions', { body: { model: 'gpt-4o', messages: [] } });
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toBe('application/json');
    expect(r.text).toBe('not json at all');
  });

  it('streamForever keeps streaming until the client leaves, then charges what was delivered', async () => {
    sim.faults = { streamForever: true, chunkDelayMs: 2 };
    const before = sim.balanceMicros();
    const res = await send(sim, 'POST', '/chat/completions', { body: streamBody('hi', { stream_options: { include_usage: true } }) });
    const s = await readSse(res, 40);
    expect(s.raw).toHaveLength(40);
    expect(s.raw).not.toContain('[DONE]');
    await eventually(() => sim.balanceMicros() < before);
  });

  it('close() ends an endless stream', async () => {
    sim.faults.streamForever = true;
    const res = await send(sim, 'POST', '/chat/completions', { body: streamBody() });
    const reading = readSse(res);
    await sim.close();
    const s = await reading;
    expect(s.error).toBeDefined();
    expect(s.raw.length).toBeGreaterThan(0);
  });

  it('omitUsage drops usage from JSON bodies and the usage chunk', async () => {
    sim.faults.omitUsage = true;
    const j = await api(sim, 'POST', '/chat/completions', { body: { model: 'gpt-4o', messages: [{ role: 'user', content: 'x' }] } });
    expect(j.json.choices[0].message.content).toBe('Echo: x');
    expect(j.json).not.toHaveProperty('usage');
    const s = await readSse(await send(sim, 'POST', '/chat/completions', { body: streamBody('x', { stream_options: { include_usage: true } }) }));
    expect(s.raw.at(-1)).toBe('[DONE]');
    expect(s.frames.some((f) => typeof f === 'object' && f !== null && 'usage' in f)).toBe(false);
  });
});

describe('/_sim control routes', () => {
  it('merges faults over HTTP, lists and clears requests, and resets', async () => {
    const set = await api(sim, 'POST', '/_sim/faults', { key: null, body: { failNext: { count: 1, status: 500 }, latencyMs: 1 } });
    expect(set.status).toBe(200);
    expect(sim.faults).toMatchObject({ failNext: { count: 1, status: 500 }, latencyMs: 1 });
    expect((await api(sim, 'GET', '/models')).status).toBe(500);
    expect((await api(sim, 'POST', '/_sim/faults', { key: null, body: { latencyMs: null } })).json).not.toHaveProperty('latencyMs');
    expect((await api(sim, 'POST', '/_sim/faults', { key: null, body: { bogus: 1 } })).status).toBe(400);
    const list = await api(sim, 'GET', '/_sim/requests', { key: null });
    expect(list.json.map((r: { path: string }) => r.path)).toEqual(['/v1/models']);
    await api(sim, 'GET', '/balance');
    expect((await api(sim, 'DELETE', '/_sim/requests', { key: null })).status).toBe(200);
    expect(sim.requests).toHaveLength(0);
    sim.faults.garbage = true;
    await api(sim, 'GET', '/models');
    await api(sim, 'POST', '/_sim/reset', { key: null });
    expect(sim.faults).toEqual({});
    expect(sim.requests).toHaveLength(0);
    expect((await api(sim, 'GET', '/models')).status).toBe(200);
  });

  it('reports state, sets the balance and advances the clock over HTTP', async () => {
    expect((await api(sim, 'POST', '/_sim/balance', { key: null, body: { usd: 1.5 } })).status).toBe(200);
    expect(sim.balanceMicros()).toBe(1_500_000);
    const st = await api(sim, 'GET', '/_sim/state', { key: null });
    expect(st.json).toMatchObject({ balance_micros: 1_500_000, admin_key: ADMIN_KEY });
    const rot = await api(sim, 'POST', '/api-keys/rotate');
    await api(sim, 'POST', '/_sim/advance', { key: null, body: { ms: 8 * 24 * 3600 * 1000 } });
    expect((await api(sim, 'GET', '/models', { key: ADMIN_KEY })).status).toBe(401);
    expect((await api(sim, 'GET', '/models', { key: rot.json.new_api_key })).status).toBe(200);
  });
});
