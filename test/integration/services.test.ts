/**
 * SkillBoss's services through the sidecar (issue 24): `POST /v1/run`,
 * `POST /v1/pilot` and `GET /v1/job/{id}` with the real daemon against the
 * simulator's run models (proxy/simulator/run.ts), metered by what they cost:
 * reserved at the synced `per_request_usd`, settled at the `cost_usd` the
 * answer reports (else at the price), a job charged once by the poll that
 * sees it end, an Idempotency-Key retry charged once.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { readAdminSecret } from '../../proxy/admin/index.js';
import { AUDIO_CHUNKS, releaseHeldAudio } from '../../proxy/simulator/run.js';
import { ledgerOf } from '../helpers/ledger.js';
import { errorOf, startStack, type Stack } from '../helpers/stack.js';

const IMAGE = 'replicate/black-forest-labs/flux-schnell';
const TTS = 'elevenlabs/eleven-multilingual-v2';
const VIDEO = 'minimax/video-01';
const CHAT = 'deepseek/deepseek-chat';

let s: Stack;
beforeAll(async () => {
  s = await startStack({ dialect: 'real', sim: { services: true } });
});
afterAll(async () => {
  await s?.close();
});
beforeEach(() => {
  s.sim.faults = {};
  s.sim.clearRequests();
});

function post(path: string, secret: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${s.baseURL}${path}`, { method: 'POST', headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
}
const run = (secret: string, model: string, inputs: Record<string, unknown> = {}, headers: Record<string, string> = {}, extra: Record<string, unknown> = {}) =>
  post('/run', secret, { model, inputs, ...extra }, headers);
const poll = (secret: string, id: string) => fetch(`${s.baseURL}/job/${id}`, { headers: { authorization: `Bearer ${secret}` } });

const charged = (tokenId: string) => ledgerOf(s.daemon.db, tokenId).reduce((a, r) => a + r.cost_micros, 0);
const lastRow = (tokenId: string) => ledgerOf(s.daemon.db, tokenId).at(-1)!;
const simRuns = () => s.sim.requests.filter((r) => r.path === '/v1/run' || r.path === '/v1/pilot');

describe('POST /v1/run', () => {
  it('answers an image run with the vendor\'s JSON and charges the cost_usd it reports', async () => {
    const { token, secret } = s.token();
    const before = s.sim.balanceMicros();
    const res = await run(secret, IMAGE, { prompt: 'a lighthouse at dusk' });
    expect(res.status).toBe(200);
    const body = (await res.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ cost_usd: 0.037 });
    expect(body.image_url).toMatch(/^https:\/\/cdn\.example\/sim\/\d+\.png$/);
    // Less than its list price (0.04): the ledger takes what SkillBoss says it cost.
    expect(before - s.sim.balanceMicros()).toBe(37_000);
    expect(lastRow(token.id)).toMatchObject({ route: '/v1/run', model: IMAGE, status: 200, cost_micros: 37_000, cost_source: 'upstream' });
    expect(s.daemon.deps.budgets.reservedFor(token.id)).toBe(0);
  });

  it('streams binary audio through as it comes, and charges its synced per-request price', async () => {
    const { token, secret } = s.token();
    const res = await run(secret, TTS, { text: 'Hello there', hold: true });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('audio/mpeg');
    const reader = res.body!.getReader();
    const first = await reader.read();
    expect(first.done).toBe(false);
    expect(Buffer.from(first.value!).subarray(0, 8)).toEqual(AUDIO_CHUNKS[0]!.subarray(0, 8));
    // The first bytes reached the agent while the simulator still holds the rest of the answer: nothing was buffered whole.
    expect(releaseHeldAudio()).toBe(1);
    let size = first.value!.length;
    for (;;) {
      const r = await reader.read();
      if (r.done) break;
      size += r.value.length;
    }
    expect(size).toBe(AUDIO_CHUNKS.reduce((a, c) => a + c.length, 0));
    expect(lastRow(token.id)).toMatchObject({ route: '/v1/run', model: TTS, status: 200, cost_micros: 20_000, cost_source: 'price' });
  });

  it('reserves a token-priced run like chat and charges its tokens', async () => {
    const { token, secret } = s.token();
    const res = await run(secret, CHAT, { prompt: 'Say hello.' });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { usage: { prompt_tokens: number; completion_tokens: number } };
    const row = lastRow(token.id);
    expect(row).toMatchObject({ model: CHAT, prompt_tokens: body.usage.prompt_tokens, completion_tokens: body.usage.completion_tokens, cost_source: 'price' });
    expect(row.cost_micros).toBe(Math.ceil(body.usage.prompt_tokens * 0.27 + body.usage.completion_tokens * 1.1));
    // Its worst case is its body as prompt tokens plus the default completion bound: more than a few micro-dollars.
    const poor = s.token({ budgetMicros: 100 });
    expect((await run(poor.secret, CHAT, { prompt: 'Say hello.' })).status).toBe(402);
  });

  it('reads the cost_usd of a long answer (over the scan threshold) that also reports usage', async () => {
    const { token, secret } = s.token();
    const res = await run(secret, CHAT, { prompt: 'Sing.', big: true });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { cost_usd: number; choices: Array<{ message: { content: string } }> };
    expect(body.choices[0]!.message.content.length).toBeGreaterThan(100_000);
    expect(lastRow(token.id)).toMatchObject({ cost_micros: Math.round(body.cost_usd * 1e6), cost_source: 'upstream' });
  });

  it('passes a streamed run through as SSE and charges the cost its last event reports', async () => {
    const { token, secret } = s.token();
    const res = await run(secret, CHAT, { prompt: 'Say hello.' }, {}, { stream: true });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const text = await res.text();
    expect(text).toContain('"delta":{"content":"Sure. "}');
    expect(text.trimEnd().endsWith('data: [DONE]')).toBe(true);
    const row = lastRow(token.id);
    expect(row).toMatchObject({ streamed: 1, cost_source: 'upstream' });
    expect(row.cost_micros).toBeGreaterThan(0);
  });

  it('routes POST /v1/pilot and charges its reported cost', async () => {
    const { token, secret } = s.token();
    const res = await post('/pilot', secret, { type: 'image', inputs: { prompt: 'a red kite' }, prefer: 'price' });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { data: { result: { image_url: string } } }).data.result.image_url).toMatch(/\.png$/);
    expect(lastRow(token.id)).toMatchObject({ route: '/v1/pilot', status: 200, cost_micros: 37_000, cost_source: 'upstream' });
  });

  it('refuses a token without services:use with 403, before anything goes upstream', async () => {
    const { token, secret } = s.token({ scopes: ['models:read', 'models:use'] });
    const r1 = await run(secret, IMAGE, { prompt: 'x' });
    expect(r1.status).toBe(403);
    expect((await errorOf(r1)).message).toContain('services:use');
    expect((await post('/pilot', secret, { type: 'image', inputs: {} })).status).toBe(403);
    expect((await poll(secret, 'job_anything')).status).toBe(403);
    expect(simRuns()).toHaveLength(0);
    expect(charged(token.id)).toBe(0);
  });

  it('charges a retry with the same Idempotency-Key once, and keeps keys apart between tokens', async () => {
    const { token, secret } = s.token();
    const before = s.sim.balanceMicros();
    const key = { 'idempotency-key': 'order-4711' };
    const a = await run(secret, IMAGE, { prompt: 'one' }, key);
    const b = await run(secret, IMAGE, { prompt: 'one' }, key);
    expect([a.status, b.status]).toEqual([200, 200]);
    expect(await b.json()).toEqual(await a.json());
    expect(before - s.sim.balanceMicros()).toBe(37_000);
    const rows = ledgerOf(s.daemon.db, token.id);
    expect(rows.map((r) => r.cost_micros)).toEqual([37_000, 0]);
    // The key goes upstream namespaced by the token: never the agent's own string.
    const sent = simRuns().map((r) => r.headers['idempotency-key']);
    expect(new Set(sent).size).toBe(1);
    expect(sent[0]).not.toContain('order-4711');
    // Another token using the same key is its own request, charged to it.
    const other = s.token();
    expect((await run(other.secret, IMAGE, { prompt: 'one' }, key)).status).toBe(200);
    expect(charged(other.token.id)).toBe(37_000);
    expect(before - s.sim.balanceMicros()).toBe(74_000);
  });

  it('refuses a second request with the same Idempotency-Key while the first is in flight (409), reserving and sending nothing for it', async () => {
    const { token, secret } = s.token({ budgetUsd: 1 });
    const before = s.sim.balanceMicros();
    const key = { 'idempotency-key': 'speak-once' };
    const first = await run(secret, TTS, { text: 'Hello', hold: true }, key);
    expect(first.status).toBe(200);
    const reader = first.body!.getReader();
    expect((await reader.read()).done).toBe(false);
    // The first is still streaming (the simulator holds the rest of its audio): the same key again is a conflict.
    const second = await run(secret, TTS, { text: 'Hello', hold: true }, key);
    expect(second.status).toBe(409);
    const err = await errorOf(second);
    expect(err.code).toBe('idempotency_key_in_use');
    expect(err.message).toContain('still in progress');
    expect(simRuns()).toHaveLength(1);
    expect(s.daemon.deps.budgets.reservedFor(token.id)).toBe(20_000);
    expect(releaseHeldAudio()).toBe(1);
    while (!(await reader.read()).done);
    // Once the first has answered, the same key is a retry: answered (replayed upstream), not charged again.
    const retry = await run(secret, TTS, { text: 'Hello' }, key);
    expect(retry.status).toBe(200);
    await retry.arrayBuffer();
    expect(before - s.sim.balanceMicros()).toBe(20_000);
    // In the order they settled: the refusal at once, the first when its audio ended, then the retry.
    expect(ledgerOf(s.daemon.db, token.id).map((r) => [r.status, r.cost_micros])).toEqual([
      [409, 0],
      [200, 20_000],
      [200, 0],
    ]);
    expect(s.daemon.deps.budgets.reservedFor(token.id)).toBe(0);
  });

  it('a retry of a request refused for its budget is a new request once the budget allows it', async () => {
    const { token, secret } = s.token({ budgetMicros: 39_999 });
    const key = { 'idempotency-key': 'try-again' };
    expect((await run(secret, IMAGE, { prompt: 'x' }, key)).status).toBe(402);
    s.tokens.setBudget(token.id, 100_000, 'test');
    s.daemon.deps.principals.clear();
    expect((await run(secret, IMAGE, { prompt: 'x' }, key)).status).toBe(200);
    expect(charged(token.id)).toBe(37_000);
  });

  it('never overspends a small budget under concurrent runs', async () => {
    const { token, secret } = s.token({ budgetUsd: 0.1 });
    const statuses = await Promise.all(Array.from({ length: 12 }, (_, i) => run(secret, IMAGE, { prompt: `p${i}` }).then((r) => r.status)));
    // Each reserves its list price (0.04): two fit in 0.10, whatever order they come in.
    expect(statuses.filter((x) => x === 200)).toHaveLength(2);
    expect(statuses.filter((x) => x === 402)).toHaveLength(10);
    expect(simRuns()).toHaveLength(2);
    expect(charged(token.id)).toBeLessThanOrEqual(100_000);
    expect(s.daemon.deps.budgets.reservedFor(token.id)).toBe(0);
  });
});

describe('async jobs', () => {
  async function startJob(secret: string, inputs: Record<string, unknown>): Promise<string> {
    const res = await run(secret, VIDEO, { prompt: 'waves', ...inputs });
    expect(res.status).toBe(202);
    const body = (await res.json()) as { status: string; job_id: string; poll_url: string };
    expect(body).toMatchObject({ status: 'accepted', poll_url: `/v1/job/${body.job_id}` });
    return body.job_id;
  }

  it('holds a job\'s reservation until a poll sees it end, charges it once over three polls, and hides it from other tokens', async () => {
    const { token, secret } = s.token({ budgetUsd: 2 });
    const intruder = s.token();
    const id = await startJob(secret, { polls: 1 });
    expect(s.daemon.deps.budgets.reservedFor(token.id)).toBe(500_000);
    expect(charged(token.id)).toBe(0);

    const p1 = await poll(secret, id);
    expect(((await p1.json()) as { status: string }).status).toBe('processing');
    const stranger = await poll(intruder.secret, id);
    expect(stranger.status).toBe(404);
    expect((await errorOf(stranger)).code).toBe('job_not_found');
    // The same answer as for a job that never existed.
    expect((await poll(intruder.secret, 'job_doesnotexist')).status).toBe(404);
    expect(s.sim.requests.filter((r) => r.path.startsWith('/v1/job/'))).toHaveLength(1);
    expect(s.daemon.deps.budgets.reservedFor(token.id)).toBe(500_000);

    const p2 = await poll(secret, id);
    expect(await p2.json()).toMatchObject({ status: 'completed', cost_usd: 0.45 });
    const p3 = await poll(secret, id);
    expect(await p3.json()).toMatchObject({ status: 'completed' });

    expect(s.daemon.deps.budgets.reservedFor(token.id)).toBe(0);
    const rows = ledgerOf(s.daemon.db, token.id);
    expect(rows.map((r) => [r.route, r.status, r.cost_micros])).toEqual([
      ['/v1/run', 202, 0],
      ['/v1/job/*', 200, 0],
      ['/v1/job/*', 200, 450_000],
      ['/v1/job/*', 200, 0],
    ]);
    expect(rows[2]).toMatchObject({ model: VIDEO, cost_source: 'upstream' });
    const job = s.daemon.db.prepare('SELECT * FROM service_jobs WHERE job_id = ?').get(id) as Record<string, unknown>;
    expect(job).toMatchObject({ token_id: token.id, request_id: rows[0]!.request_id, settled_request_id: rows[2]!.request_id, status: 'completed', cost_micros: 450_000 });
    expect(charged(intruder.token.id)).toBe(0);
  });

  it('settles a job whose completed answer is large (read whole, not scanned)', async () => {
    const { token, secret } = s.token({ budgetUsd: 1 });
    const id = await startJob(secret, { polls: 0, big: true });
    const done = (await (await poll(secret, id)).json()) as { status: string; result: { preview_base64: string } };
    expect(done.status).toBe('completed');
    expect(done.result.preview_base64).toHaveLength(100_000);
    expect(charged(token.id)).toBe(450_000);
    expect(s.daemon.deps.budgets.reservedFor(token.id)).toBe(0);
  });

  it('tells the agent to poll the sidecar whatever absolute poll_url the upstream gives, and polls only the upstream', async () => {
    const foreign: string[] = [];
    const other: Server = createServer((req, res) => {
      foreign.push(`${req.method} ${req.url} ${req.headers.authorization ?? ''}`);
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"completed","cost_usd":0}');
    });
    await new Promise<void>((r) => other.listen(0, '127.0.0.1', r));
    try {
      const elsewhere = `http://127.0.0.1:${(other.address() as AddressInfo).port}/v1`;
      const { token, secret } = s.token({ budgetUsd: 2 });
      for (const base of [elsewhere, s.sim.url]) {
        const res = await run(secret, VIDEO, { prompt: 'waves', polls: 0, poll_base: base });
        expect(res.status).toBe(202);
        const body = (await res.json()) as { job_id: string; poll_url: string };
        expect(body.poll_url).toBe(`/v1/job/${body.job_id}`);
        // The agent polls what it was told, on the sidecar; the sidecar polls its upstream, nowhere else.
        const done = await fetch(new URL(body.poll_url, s.daemon.url), { headers: { authorization: `Bearer ${secret}` } });
        expect(await done.json()).toMatchObject({ status: 'completed', cost_usd: 0.45 });
      }
      expect(foreign).toEqual([]);
      expect(charged(token.id)).toBe(900_000);
    } finally {
      await new Promise<void>((r) => other.close(() => r()));
    }
  });

  it('a failed job releases its reservation and costs nothing it did not report', async () => {
    const { token, secret } = s.token({ budgetUsd: 1 });
    const id = await startJob(secret, { polls: 0, fail: true });
    expect(await (await poll(secret, id)).json()).toMatchObject({ status: 'failed' });
    expect(s.daemon.deps.budgets.reservedFor(token.id)).toBe(0);
    expect(charged(token.id)).toBe(0);
  });

  it('an open job\'s reservation counts against the budget', async () => {
    const { secret } = s.token({ budgetUsd: 0.6 });
    await startJob(secret, { polls: 5 });
    const second = await run(secret, VIDEO, { prompt: 'more waves' });
    expect(second.status).toBe(402);
  });

  it('settles a job past the human\'s timeout at its reservation, flagged', async () => {
    const { token, secret } = s.token({ budgetUsd: 1 });
    const id = await startJob(secret, { polls: 50 });
    const timeout = (minutes: number) =>
      fetch(`${s.daemon.url}/admin/api/settings`, {
        method: 'PATCH',
        headers: { authorization: `Bearer ${readAdminSecret(s.dataDir)}`, 'content-type': 'application/json' },
        body: JSON.stringify({ service_job_timeout_minutes: minutes }),
      });
    const set = await timeout(1);
    expect(set.status).toBe(200);
    expect(((await set.json()) as { service_job_timeout_minutes: number }).service_job_timeout_minutes).toBe(1);
    try {
      s.clock.now += 2 * 60_000;
      const p = await poll(secret, id);
      expect(p.status).toBe(200);
      const rows = ledgerOf(s.daemon.db, token.id);
      const timedOut = rows.find((r) => r.error_code === 'job_timed_out');
      expect(timedOut).toMatchObject({ cost_micros: 500_000, cost_source: 'default', route: '/v1/job/*', model: VIDEO });
      expect(charged(token.id)).toBe(500_000);
      expect(s.daemon.deps.budgets.reservedFor(token.id)).toBe(0);
    } finally {
      await timeout(60);
    }
  });
});

describe('a restart while a job runs', () => {
  it('holds the open job\'s reservation again, and the poll after it charges the job once', async () => {
    const stack = await startStack({ dialect: 'real', sim: { services: true } });
    try {
      const { token, secret } = stack.token({ budgetUsd: 0.6 });
      const started = await fetch(`${stack.baseURL}/run`, {
        method: 'POST',
        headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: VIDEO, inputs: { prompt: 'tide', polls: 0 } }),
      });
      expect(started.status).toBe(202);
      const { job_id } = (await started.json()) as { job_id: string };
      await stack.daemon.close();
      const { startDaemon } = await import('../../proxy/server/daemon.js');
      const again = await startDaemon({ dataDir: stack.dataDir, port: 0, upstreamUrl: stack.sim.url, keyStore: stack.keyStore, clock: stack.clock, syncIntervalMs: 0 });
      try {
        expect(again.deps.budgets.reservedFor(token.id)).toBe(500_000);
        // The budget still counts the open job: a second one does not fit.
        const second = await fetch(`${again.url}/v1/run`, {
          method: 'POST',
          headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
          body: JSON.stringify({ model: VIDEO, inputs: { prompt: 'more tide' } }),
        });
        expect(second.status).toBe(402);
        const done = await fetch(`${again.url}/v1/job/${job_id}`, { headers: { authorization: `Bearer ${secret}` } });
        expect(await done.json()).toMatchObject({ status: 'completed' });
        expect(again.deps.budgets.reservedFor(token.id)).toBe(0);
        expect(ledgerOf(again.db, token.id).reduce((a, r) => a + r.cost_micros, 0)).toBe(450_000);
      } finally {
        await again.close();
      }
    } finally {
      await stack.close();
    }
  });
});
