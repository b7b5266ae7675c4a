/**
 * Group E: body, connection and upstream limits, set small here through
 * startDaemon's limits so each bound shows within a second or two. Every
 * test also checks that other agents are served while the bound holds.
 */
import type { Socket } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../helpers/stack.js';
import { call, chatBody, listUsage } from './kit.js';
import { codeOf, head, openSocket, raw, readReply } from './raw.js';

const LIMITS = {
  maxBodyBytes: 64 * 1024,
  headersTimeoutMs: 400,
  requestTimeoutMs: 1000,
  upstreamHeadersTimeoutMs: 600,
  upstreamIdleTimeoutMs: 600,
  maxResponseMs: 1500,
};

let s: Stack;
let agent: string;
let other: string;

beforeAll(async () => {
  s = await startStack({ daemon: { limits: LIMITS } });
  agent = s.token({ preset: 'write' }).secret;
  other = s.token({ preset: 'write' }).secret;
});
afterAll(async () => {
  await s?.close();
});
afterEach(() => {
  for (const k of Object.keys(s.sim.faults)) delete (s.sim.faults as Record<string, unknown>)[k];
});

/** Another agent's ordinary call, to show the daemon keeps serving. */
async function neighbourServed(): Promise<void> {
  const res = await call(s, other, 'POST', '/v1/chat/completions', chatBody());
  expect(res.status).toBe(200);
  await res.text();
}

/** Writes `chunk` every `everyMs` until the server closes the socket. */
function trickle(socket: Socket, chunk: string, everyMs: number): void {
  const t = setInterval(() => {
    if (socket.destroyed || !socket.writable) return clearInterval(t);
    socket.write(chunk);
  }, everyMs);
  socket.once('close', () => clearInterval(t));
}

const hostLine = () => `Host: 127.0.0.1:${s.daemon.port}`;

describe('E. request bodies', () => {
  it('E1 body-size DoS: a 1 GB Content-Length with a few bytes sent gets 413 at once, before the body is read, and the connection is closed', async () => {
    s.sim.clearRequests();
    const socket = await openSocket(s.daemon.port);
    const reply = readReply(socket);
    socket.write(head('POST /v1/chat/completions HTTP/1.1', [hostLine(), `Authorization: Bearer ${agent}`, 'Content-Type: application/json', 'Content-Length: 1000000000']) + '{"model":"gpt-4o",');
    const r = await reply;
    expect(r.status).toBe(413);
    expect(codeOf(r)).toBe('body_too_large');
    expect(r.ms).toBeLessThan(1000);
    expect(r.headers.connection?.[0]).toBe('close');
    await new Promise<void>((resolve) => (socket.destroyed ? resolve() : socket.once('close', () => resolve())));
    expect(s.sim.requests).toHaveLength(0);
  });

  it('E2 body-size DoS without a declared length: a chunked body is cut off with 413 as soon as it passes the limit, while the client is still sending', async () => {
    s.sim.clearRequests();
    const socket = await openSocket(s.daemon.port);
    const reply = readReply(socket);
    socket.write(head('POST /v1/chat/completions HTTP/1.1', [hostLine(), `Authorization: Bearer ${agent}`, 'Content-Type: application/json', 'Transfer-Encoding: chunked']));
    const chunk = `${(16 * 1024).toString(16)}\r\n${'a'.repeat(16 * 1024)}\r\n`;
    for (let i = 0; i < 5; i++) socket.write(chunk); // 80 KiB, over the 64 KiB limit, and no terminating chunk
    trickle(socket, chunk, 50);
    const r = await reply;
    expect(r.status).toBe(413);
    expect(r.ms).toBeLessThan(1000);
    socket.destroy();
    expect(s.sim.requests).toHaveLength(0);
  });

  it('E3 JSON parser DoS: 20,000 levels of nesting are refused (400) at once, not forwarded, and other agents are served meanwhile', async () => {
    s.sim.clearRequests();
    const deep = `{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"x":${'['.repeat(20_000)}${']'.repeat(20_000)}}`;
    const started = performance.now();
    const [res] = await Promise.all([call(s, agent, 'POST', '/v1/chat/completions', deep), neighbourServed()]);
    expect(res.status).toBe(400);
    const e = (await res.json()) as { error: { code: string; message: string } };
    expect(e.error.code).toBe('invalid_json');
    expect(e.error.message).toContain('levels deep');
    expect(performance.now() - started).toBeLessThan(2000);
    expect(s.sim.requests.filter((r) => r.body.includes('[[[['))).toHaveLength(0);
  });
});

describe('E. slow clients (slowloris)', () => {
  it('E4 slowloris headers: 20 clients trickling headers are cut off with 408 within the headers timeout, and other agents are served meanwhile', async () => {
    const sockets = await Promise.all(Array.from({ length: 20 }, () => openSocket(s.daemon.port)));
    const replies = sockets.map((socket) => {
      const r = readReply(socket, { timeoutMs: 5000, untilClose: true });
      socket.write(`GET /v1/models HTTP/1.1\r\n${hostLine()}\r\n`);
      trickle(socket, 'X-Slow: a\r\n', 100);
      return r;
    });
    await neighbourServed();
    for (const r of await Promise.all(replies)) {
      expect(r.status).toBe(408);
      expect(r.closed).toBe(true);
      expect(r.ms).toBeLessThan(LIMITS.headersTimeoutMs + 1000);
    }
  });

  it('E5 slowloris body: a request whose body trickles in is cut off with 408 within the request timeout, and nothing is forwarded', async () => {
    s.sim.clearRequests();
    const socket = await openSocket(s.daemon.port);
    const reply = readReply(socket, { timeoutMs: 5000, untilClose: true });
    socket.write(head('POST /v1/chat/completions HTTP/1.1', [hostLine(), `Authorization: Bearer ${agent}`, 'Content-Type: application/json', 'Content-Length: 10000']) + '{"model":');
    trickle(socket, ' ', 100);
    const r = await reply;
    expect(r.status).toBe(408);
    expect(r.closed).toBe(true);
    expect(r.ms).toBeLessThan(LIMITS.requestTimeoutMs + 1000);
    expect(s.sim.requests).toHaveLength(0);
  });

  it('E6 idle sockets: a connection that never sends a byte is closed within the headers timeout', async () => {
    const r = await raw(s.daemon.port, '', { timeoutMs: 5000, untilClose: true });
    expect(r.closed).toBe(true);
    expect(r.ms).toBeLessThan(LIMITS.headersTimeoutMs + 1000);
  });
});

describe('E. per-token concurrency', () => {
  it('E7 one agent cannot hog the sidecar: past its concurrency cap it gets 429 with Retry-After, while another agent is served', async () => {
    const capped = s.token({ preset: 'write', maxConcurrent: 2 });
    s.sim.faults.latencyMs = 300;
    const results = await Promise.all([
      ...Array.from({ length: 3 }, () => call(s, capped.secret, 'POST', '/v1/chat/completions', chatBody())),
      call(s, other, 'POST', '/v1/chat/completions', chatBody()),
    ]);
    const statuses = results.slice(0, 3).map((r) => r.status).sort();
    expect(statuses).toEqual([200, 200, 429]);
    const limited = results.find((r) => r.status === 429)!;
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(((await limited.json()) as { error: { code: string } }).error.code).toBe('concurrency_limit');
    expect(results[3]!.status).toBe(200);
    expect(s.daemon.deps.limiter.inFlightFor(capped.token.id)).toBe(0);
  });
});

describe('E. upstream faults', () => {
  it('E8 an upstream that hangs: 504 within the upstream timeout; meanwhile local routes and health answer', async () => {
    s.sim.faults.hang = true;
    const started = performance.now();
    const pending = call(s, agent, 'POST', '/v1/chat/completions', chatBody());
    expect((await call(s, other, 'GET', '/v1/balance')).status).toBe(200);
    expect((await fetch(`${s.daemon.url}/healthz`)).status).toBe(200);
    const res = await pending;
    const elapsed = performance.now() - started;
    expect(res.status).toBe(504);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('upstream_timeout');
    expect(elapsed).toBeGreaterThanOrEqual(LIMITS.upstreamHeadersTimeoutMs - 50);
    expect(elapsed).toBeLessThan(LIMITS.upstreamHeadersTimeoutMs + 2000);
  });

  it('E9 an upstream that streams forever is cut off at the response time limit: an error event, the delivered part charged, the slot released, others served', async () => {
    const t = s.token({ preset: 'write', maxConcurrent: 1 });
    s.sim.faults.streamForever = true;
    s.sim.faults.chunkDelayMs = 10;
    const started = performance.now();
    const res = await call(s, t.secret, 'POST', '/v1/chat/completions', chatBody({ stream: true }));
    expect(res.status).toBe(200);
    const text = await res.text();
    const elapsed = performance.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(LIMITS.maxResponseMs - 50);
    expect(elapsed).toBeLessThan(LIMITS.maxResponseMs + 2000);
    expect(text).toContain('upstream_response_too_long');
    expect(text).not.toContain('[DONE]');
    delete s.sim.faults.streamForever;
    await neighbourServed();
    const row = listUsage(s, t.token.id).at(-1)!;
    expect(row).toMatchObject({ status: 502, error_code: 'upstream_response_too_long' });
    expect(row.cost_micros).toBeGreaterThan(0);
    expect(s.daemon.deps.limiter.inFlightFor(t.token.id)).toBe(0);
    expect(s.daemon.deps.budgets.reservedFor(t.token.id)).toBe(0);
  });

  it('E10 an upstream that sends too much is cut off at the response size limit', async () => {
    const t = s.token({ preset: 'write' });
    const limits = s.daemon.deps.limits;
    const saved = { bytes: limits.maxResponseBytes, ms: limits.maxResponseMs };
    limits.maxResponseBytes = 20_000;
    limits.maxResponseMs = 60_000;
    s.sim.faults.streamForever = true;
    try {
      const res = await call(s, t.secret, 'POST', '/v1/chat/completions', chatBody({ stream: true }));
      const text = await res.text();
      expect(text).toContain('upstream_response_too_large');
      expect(text.length).toBeLessThan(40_000);
      expect(listUsage(s, t.token.id).at(-1)).toMatchObject({ status: 502, error_code: 'upstream_response_too_large' });
    } finally {
      limits.maxResponseBytes = saved.bytes;
      limits.maxResponseMs = saved.ms;
    }
  });

  it('E11 an upstream that sends garbage: 502 upstream_invalid_response, nothing charged as if it were an answer, and the next call works', async () => {
    const t = s.token({ preset: 'write' });
    s.sim.faults.garbage = true;
    const res = await call(s, t.secret, 'POST', '/v1/chat/completions', chatBody());
    expect(res.status).toBe(502);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('upstream_invalid_response');
    delete s.sim.faults.garbage;
    await neighbourServed();
    expect(s.daemon.deps.budgets.reservedFor(t.token.id)).toBe(0);
  });

  it('E12 an upstream that resets in the middle of a stream: the client is told (error event), the delivered part is charged, the daemon stays up', async () => {
    const t = s.token({ preset: 'write' });
    s.sim.faults.dropAfterChunks = 3;
    const res = await call(s, t.secret, 'POST', '/v1/chat/completions', chatBody({ stream: true, messages: [{ role: 'user', content: 'one two three four five six seven eight nine ten' }] }));
    const text = await res.text();
    expect(text).toContain('upstream_stream_broken');
    delete s.sim.faults.dropAfterChunks;
    const row = listUsage(s, t.token.id).at(-1)!;
    expect(row.status).toBe(502);
    expect(row.cost_micros).toBeGreaterThan(0);
    await neighbourServed();
  });
});
