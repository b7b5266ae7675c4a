/**
 * The simulator's services (proxy/simulator/run.ts): `/v1/run` per kind of
 * model, jobs that only their key may poll and that charge once, `/v1/pilot`,
 * `Idempotency-Key` replays that charge nothing, and the model list with
 * pricing in their details under `services: true`; only in the real dialect (the seed page has no `/v1/run`).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SIMULATOR_MODELS, startSimulator, type Simulator } from '../../../proxy/simulator/index.js';
import { ADMIN_KEY, api } from './helpers.js';

let sim: Simulator;
let plain: Simulator;
let seed: Simulator;
beforeAll(async () => {
  sim = await startSimulator({ apiKey: ADMIN_KEY, dialect: 'real', services: true });
  plain = await startSimulator({ apiKey: ADMIN_KEY, dialect: 'real' });
  seed = await startSimulator({ apiKey: ADMIN_KEY, services: true });
});
afterAll(async () => {
  await sim?.close();
  await plain?.close();
  await seed?.close();
});

const IMAGE = 'replicate/black-forest-labs/flux-schnell';

describe('simulator /v1/run', () => {
  it('lists the run models with their type only when asked to, priced in their details', async () => {
    const listed = (await api(sim, 'GET', '/models')).json.models as Array<{ id: string; type: string; vendor: string }>;
    expect(listed.find((m) => m.id === IMAGE)).toMatchObject({ type: 'image', vendor: 'replicate' });
    expect(listed.find((m) => m.id === 'minimax/video-01')).toMatchObject({ type: 'video' });
    expect((await api(sim, 'GET', `/models/${IMAGE}`)).json.model).toMatchObject({ pricing: { unit: 'request', per_request_usd: 0.04 } });
    expect((await api(sim, 'GET', '/models/deepseek/deepseek-chat')).json.model).toMatchObject({ pricing: { unit: 'token', per_1m_input_usd: 0.27 } });
    expect((await api(plain, 'GET', '/models')).json.models).toHaveLength(SIMULATOR_MODELS.length);
  });

  it('answers the run routes only in the real dialect: the seed page has none', async () => {
    expect((await api(seed, 'POST', '/run', { body: { model: IMAGE, inputs: {} } })).status).toBe(404);
    expect((await api(seed, 'POST', '/pilot', { body: { type: 'image', inputs: {} } })).status).toBe(404);
    expect((await api(seed, 'GET', '/job/job_x')).status).toBe(404);
    expect((await api(seed, 'GET', '/models')).json.data).toHaveLength(SIMULATOR_MODELS.length);
  });

  it('answers an image run with its cost and charges it; an unknown model is 404, a missing one 400', async () => {
    const before = sim.balanceMicros();
    const r = await api(sim, 'POST', '/run', { body: { model: IMAGE, inputs: { prompt: 'x' } } });
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ cost_usd: 0.037 });
    expect(before - sim.balanceMicros()).toBe(37_000);
    expect((await api(sim, 'POST', '/run', { body: { model: 'nope/nope', inputs: {} } })).status).toBe(404);
    expect((await api(sim, 'POST', '/run', { body: { inputs: {} } })).status).toBe(400);
  });

  it('replays an Idempotency-Key retry without charging it again', async () => {
    const before = sim.balanceMicros();
    const headers = { 'idempotency-key': 'k-1' };
    const a = await api(sim, 'POST', '/run', { body: { model: IMAGE, inputs: {} }, headers });
    const b = await api(sim, 'POST', '/run', { body: { model: IMAGE, inputs: {} }, headers });
    expect(b.json).toEqual(a.json);
    expect(b.headers.get('idempotent-replayed')).toBe('true');
    expect(before - sim.balanceMicros()).toBe(37_000);
  });

  it('runs a video as a job: 202, processing, then completed and charged once; another key gets 404', async () => {
    const child = await api(sim, 'POST', '/sub-wallets', { body: { label: 'other', rules: { max_spend_usd: 5 } } });
    expect(child.status).toBe(200);
    const before = sim.balanceMicros();
    const started = await api(sim, 'POST', '/run', { body: { model: 'minimax/video-01', inputs: { polls: 1 } } });
    expect(started.status).toBe(202);
    const id = started.json.job_id as string;
    expect(started.json).toEqual({ status: 'accepted', job_id: id, poll_url: `/v1/job/${id}`, model: 'minimax/video-01' });
    expect((await api(sim, 'GET', `/job/${id}`, { key: child.json.api_key })).status).toBe(404);
    expect((await api(sim, 'GET', `/job/${id}`)).json.status).toBe('processing');
    expect((await api(sim, 'GET', `/job/${id}`)).json).toMatchObject({ status: 'completed', cost_usd: 0.45 });
    expect((await api(sim, 'GET', `/job/${id}`)).json.status).toBe('completed');
    expect(before - sim.balanceMicros()).toBe(450_000);
  });

  it('pilots an image run by type', async () => {
    const r = await api(sim, 'POST', '/pilot', { body: { type: 'image', inputs: { prompt: 'x' }, prefer: 'price' } });
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ model: IMAGE, cost_usd: 0.037 });
    expect((await api(sim, 'POST', '/pilot', { body: { type: 'teleport' } })).status).toBe(400);
  });
});
