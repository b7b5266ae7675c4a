/**
 * Stage 9, relay, between two real HTTP servers: a stand-in upstream that
 * answers as each test says, and the sidecar side that relays through the
 * real upstream client (node:http, keep-alive). Checked: what the client receives, what the relay hands
 * the meter (the Outcome), the end held back until settlement, the real key
 * scrubbed from upstream refusals, and the size cap.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_LIMITS, type Limits } from '../../../proxy/core/config.js';
import { asSidecarError } from '../../../proxy/core/errors.js';
import { SidecarEvents } from '../../../proxy/core/events.js';
import { silentLogger } from '../../../proxy/core/log.js';
import { openDatabase, type DB } from '../../../proxy/db/database.js';
import { KeyHolder } from '../../../proxy/keychain/holder.js';
import type { Principal } from '../../../proxy/pipeline/authenticate.js';
import type { StageDeps, RequestContext } from '../../../proxy/pipeline/context.js';
import type { Estimate } from '../../../proxy/pipeline/estimate.js';
import type { Outcome } from '../../../proxy/pipeline/meter.js';
import { finish, relay } from '../../../proxy/pipeline/relay.js';
import { sendError } from '../../../proxy/pipeline/respond.js';
import { matchRoute } from '../../../proxy/pipeline/routes.js';
import { Upstream } from '../../../proxy/pipeline/upstream.js';
import { TokenizerPool } from '../../../proxy/pricing/tokenizer-pool.js';
import { DIALECTS } from '../../../proxy/server/dialects.js';
import { UpstreamState } from '../../../proxy/upstream/status.js';

const KEY = 'sk-real-key-0123456789abcdef';
/** The estimate the relay is handed (it reads the model from it on translated routes). */
const EST: Estimate = { model: 'gpt-4o-mini', promptTokens: 0, exact: true, maxCompletionTokens: 0, worstCaseMicros: 0, stream: false, units: 1, agentBound: null, choices: 1, boundFields: [], bound: null };

let dir: string;
let db: DB;
let upstreamServer: Server;
let sidecar: Server;
let upstream: Upstream;
let state: UpstreamState;
let limits: Limits;
/** How the stand-in upstream answers the next request. */
let answer: (res: ServerResponse) => void;
/** Whether the sidecar asked for the usage chunk on the client's behalf (then it is hidden). */
let hideUsage: boolean;
let outcome: Outcome | null;
const tokenizer = new TokenizerPool();
const events = new SidecarEvents();

const listen = (s: Server) => new Promise<number>((resolve) => s.listen(0, '127.0.0.1', () => resolve((s.address() as AddressInfo).port)));

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sbs-relay-'));
  db = openDatabase(dir);
  upstreamServer = createServer((_req, res) => answer(res));
  upstream = new Upstream({ baseUrl: `http://127.0.0.1:${await listen(upstreamServer)}/v1`, headersTimeoutMs: 10_000, idleTimeoutMs: 10_000 });
  const key = new KeyHolder({ kind: 'os-keychain', get: () => KEY, set: () => undefined, remove: () => false });
  key.reload();
  sidecar = createServer((req: IncomingMessage, res: ServerResponse) => {
    const deps = { limits, key, upstreamState: state, upstream: () => upstream, log: silentLogger(), dialects: DIALECTS, tokenizer, events, hygiene: { passInjectedFields: false, sendAgentName: true } } as unknown as StageDeps;
    const ctx: RequestContext = {
      req,
      res,
      deps,
      requestId: 'req-1',
      startedAt: performance.now(),
      now: Date.now(),
      route: matchRoute('POST', '/v1/chat/completions'),
      principal: {} as Principal,
    };
    const abort = new AbortController();
    upstream
      .request({ method: 'POST', path: '/chat/completions', headers: {}, body: '{}', key: KEY, requestId: 'req-1', signal: abort.signal })
      .then((up) => relay(ctx, { up, hideUsage, signal: abort.signal, detach: () => undefined, maxCostUsd: null }, EST))
      .then((o) => {
        outcome = o;
        finish(ctx, o);
      })
      .catch((err: unknown) => sendError(res, asSidecarError(err)));
  });
  await listen(sidecar);
});
afterAll(async () => {
  await upstream.destroy();
  await tokenizer.close();
  await new Promise((r) => upstreamServer.close(r));
  await new Promise((r) => sidecar.close(r));
  db.close();
  rmSync(dir, { recursive: true, force: true });
});
beforeEach(() => {
  limits = { ...DEFAULT_LIMITS };
  state = new UpstreamState(db, new SidecarEvents());
  hideUsage = false;
  outcome = null;
});

const call = () => fetch(`http://127.0.0.1:${(sidecar.address() as AddressInfo).port}/`, { method: 'POST' });
const sse = (...events: unknown[]) => events.map((e) => `data: ${typeof e === 'string' ? e : JSON.stringify(e)}\n\n`).join('');
const chunk = (content: string) => ({ choices: [{ index: 0, delta: { content } }] });

describe('relay', () => {
  it('sends a stream\'s head at once when the first bytes behind it are only half an event', async () => {
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    const whole = sse(chunk('split'), '[DONE]');
    answer = (res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(whole.slice(0, 12)); // goes with the head: the sidecar finds bytes waiting, but no whole event
      void released.then(() => res.end(whole.slice(12)));
    };
    const res = await call();
    expect(res.status).toBe(200);
    release();
    expect(await res.text()).toContain('"split"');
  });

  it('sends a stream\'s head at once when its upstream sent only the head, and the events when they come', async () => {
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    answer = (res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' }).flushHeaders();
      void released.then(() => res.end(sse(chunk('late'), '[DONE]')));
    };
    // The client has its status and headers while the upstream still holds every event back.
    const res = await call();
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/event-stream');
    release();
    const text = await res.text();
    expect(text).toContain('"late"');
    expect(text.trimEnd().endsWith('data: [DONE]')).toBe(true);
  });

  it('passes a JSON answer through whole and hands the meter its usage and reported cost', async () => {
    const body = { model: 'gpt-4o-mini', choices: [{ message: { content: 'hi' } }], usage: { prompt_tokens: 7, completion_tokens: 2 } };
    answer = (res) => res.writeHead(200, { 'content-type': 'application/json', 'x-skillboss-cost': '0.000012', 'set-cookie': 'no=1' }).end(JSON.stringify(body));
    const res = await call();
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual(body);
    // Only allowlisted headers come back.
    expect(res.headers.get('set-cookie')).toBeNull();
    expect(outcome).toMatchObject({ status: 200, streamed: false, reportedCostMicros: 12, errorCode: null, usage: { promptTokens: 7, completionTokens: 2, model: 'gpt-4o-mini' } });
  });

  it('forwards a stream event by event, hides the usage chunk it asked for, and holds [DONE] until the end', async () => {
    hideUsage = true;
    answer = (res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.end(sse(chunk('a'), chunk('b'), { choices: [], usage: { prompt_tokens: 3, completion_tokens: 2 } }, '[DONE]'));
    };
    const text = await (await call()).text();
    expect(text).toBe(sse(chunk('a'), chunk('b'), '[DONE]'));
    expect(outcome).toMatchObject({ status: 200, streamed: true, usage: { promptTokens: 3, completionTokens: 2 }, trailer: 'data: [DONE]\n\n' });
  });

  it('turns SkillBoss refusing the real key into a 502 that does not blame the agent, with the key scrubbed, and asks for a validity probe', async () => {
    answer = (res) => res.writeHead(401, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { message: `bad key ${KEY}` } }));
    const heard: unknown[] = [];
    events.on('upstream_said', (e) => heard.push(e));
    const res = await call();
    const text = await res.text();
    expect(res.status).toBe(502);
    expect(JSON.parse(text).error).toMatchObject({ code: 'upstream_key_rejected', type: 'upstream_error', param: null });
    expect(text).not.toContain(KEY);
    // One route's 401 is not the key's verdict (issue 23: some routes take only wholesale keys); the probe decides.
    expect(state.get().key).not.toBe('invalid');
    expect(heard).toEqual([{ kind: 'route_key_rejected', route: '/v1/chat/completions' }]);
    expect(outcome).toMatchObject({ status: 502, errorCode: 'upstream_key_rejected', usage: null });
  });

  it('relays an upstream 5xx as 502 with what SkillBoss said, the key masked', async () => {
    answer = (res) => res.writeHead(503, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { message: `overloaded (${KEY})` } }));
    const res = await call();
    const e = ((await res.json()) as { error: { message: string; code: string } }).error;
    expect(res.status).toBe(502);
    expect(e.code).toBe('upstream_error');
    expect(e.message).toContain('overloaded');
    expect(e.message).not.toContain(KEY);
    expect(e.message).toContain(KEY.slice(-4));
  });

  it('cuts a stream off at the size limit, ending it with an error event in the standard envelope, and charges what was delivered', async () => {
    limits = { ...DEFAULT_LIMITS, maxResponseBytes: 2000 };
    answer = (res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      // An upstream that keeps sending and never finishes.
      for (let i = 0; i < 100; i++) res.write(sse(chunk('word '.repeat(10))));
    };
    const text = await (await call()).text();
    const events = text.split('\n\n').filter(Boolean);
    const last = JSON.parse(events.at(-1)!.slice('data: '.length)) as { error: Record<string, unknown> };
    expect(last.error).toEqual({ message: expect.stringContaining('2000 bytes'), type: 'upstream_error', code: 'upstream_response_too_large', param: null });
    expect(text).not.toContain('[DONE]');
    // What arrived before the cut was delivered (one burst may hold all of it).
    expect(events.length).toBeGreaterThan(1);
    expect(outcome).toMatchObject({ status: 502, errorCode: 'upstream_response_too_large', streamed: true });
    expect(outcome!.countedCompletion).toBeGreaterThan(0);
  });

  it('answers 504 when SkillBoss goes silent in the middle of a JSON answer (the idle timeout), and keeps the next call on the pool working', async () => {
    const normal = upstream;
    const port = (upstreamServer.address() as AddressInfo).port;
    upstream = new Upstream({ baseUrl: `http://127.0.0.1:${port}/v1`, headersTimeoutMs: 10_000, idleTimeoutMs: 300 });
    try {
      answer = (res) => {
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': '100' });
        res.write('{"choices":');
      };
      const t0 = Date.now();
      const res = await call();
      expect(res.status).toBe(504);
      expect(((await res.json()) as { error: { code: string; message: string } }).error).toMatchObject({ code: 'upstream_timeout', message: expect.stringContaining('stopped sending for 0.3 s') });
      expect(Date.now() - t0).toBeGreaterThanOrEqual(250);
      answer = (res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ choices: [], usage: { prompt_tokens: 1, completion_tokens: 1 } }));
      expect((await call()).status).toBe(200);
    } finally {
      await upstream.destroy();
      upstream = normal;
    }
  });
});
