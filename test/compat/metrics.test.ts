/**
 * GET /metrics: off by default, admin-authenticated, and a strictly valid
 * Prometheus exposition whose counters move with real agent traffic (the
 * openai SDK through the daemon against the simulator). Also the CLI's
 * `serve --metrics`, scraped with curl as Prometheus would.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import OpenAI from 'openai';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isLoopbackPeer } from '../../proxy/metrics/route.js';
import { osKeychain } from '../../proxy/keychain/store.js';
import { startSimulator } from '../../proxy/simulator/index.js';
import { randomBase62 } from '../../proxy/tokens/format.js';
import { runCli, startCli } from '../helpers/cli.js';
import { errorOf, startStack, tempDir, type Stack } from '../helpers/stack.js';
import { parsePrometheusText, valueOf, type Family } from './prom-text.js';

let s: Stack;
let admin: string;
beforeAll(async () => {
  s = await startStack({ daemon: { metrics: true } });
  admin = readFileSync(join(s.dataDir, 'admin-secret'), 'utf8').trim();
});
afterAll(async () => {
  await s?.close();
});

async function scrape(): Promise<Map<string, Family>> {
  const res = await fetch(`${s.daemon.url}/metrics`, { headers: { authorization: `Bearer ${admin}` } });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toBe(new Registry().contentType);
  return parsePrometheusText(await res.text());
}

const client = (apiKey: string) => new OpenAI({ baseURL: s.baseURL, apiKey, maxRetries: 0 });
const chat = (apiKey: string, content = 'hi', model = 'gpt-4o-mini') => client(apiKey).chat.completions.create({ model, messages: [{ role: 'user', content }] });
const n = (v: number | undefined) => v ?? 0;

describe('/metrics', () => {
  it('refuses without the admin secret, and agent tokens never work', async () => {
    const none = await fetch(`${s.daemon.url}/metrics`);
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toContain('Bearer');
    expect((await errorOf(await fetch(`${s.daemon.url}/metrics`, { headers: { authorization: 'Bearer sk-sba-wrong' } }))).code).toBe('invalid_admin_secret');
    const agent = s.token({ preset: 'admin' }).secret;
    expect(await errorOf(await fetch(`${s.daemon.url}/metrics`, { headers: { authorization: `Bearer ${agent}` } }))).toMatchObject({ status: 403, code: 'agent_token_not_admin' });
    expect((await fetch(`${s.daemon.url}/metrics`, { method: 'POST', headers: { authorization: `Bearer ${admin}` } })).status).toBe(405);
  });

  it('is a strictly valid exposition with the documented families', async () => {
    const f = await scrape();
    expect(f.get('skillboss_sidecar_requests_total')?.type).toBe('counter');
    expect(f.get('skillboss_sidecar_upstream_request_duration_seconds')?.type).toBe('histogram');
    expect(f.get('skillboss_sidecar_spend_dollars_total')?.type).toBe('counter');
    expect(f.get('skillboss_sidecar_budget_remaining_dollars')?.type).toBe('gauge');
    expect(f.get('skillboss_sidecar_budget_refusals_total')?.type).toBe('counter');
    expect(f.get('skillboss_sidecar_rate_limit_refusals_total')?.type).toBe('counter');
    expect(f.get('skillboss_sidecar_upstream_balance_dollars')?.type).toBe('gauge');
    expect(f.get('skillboss_sidecar_process_resident_memory_bytes')?.type).toBe('gauge');
    for (const fam of f.values()) expect(fam.help, fam.name).toBeTruthy();
  });

  it('counters move with traffic: requests, latency, spend, refusals, remaining budget, balance', async () => {
    const spender = s.token({ name: 'spender', budgetUsd: 1 });
    const broke = s.token({ name: 'broke', budgetUsd: 0.000001 });
    const reader = s.token({ name: 'reader', preset: 'read-only' });
    const limited = s.token({ name: 'limited', rpm: 1 });
    const before = await scrape();
    const chatCount = (fam: Map<string, Family>) => n(valueOf(fam, 'skillboss_sidecar_upstream_request_duration_seconds_count', { route: '/v1/chat/completions' }));
    const modelsCount = (fam: Map<string, Family>) => n(valueOf(fam, 'skillboss_sidecar_upstream_request_duration_seconds_count', { route: '/v1/models' }));

    await chat(spender.secret, 'one');
    await chat(spender.secret, 'two');
    const stream = await client(spender.secret).chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'three' }], stream: true });
    for await (const _ of stream) void _;
    await expect(chat(broke.secret, 'x', 'claude-4-5-sonnet')).rejects.toMatchObject({ status: 402 });
    await expect(chat(reader.secret)).rejects.toMatchObject({ status: 403 });
    await client(limited.secret).models.list();
    await expect(client(limited.secret).models.list()).rejects.toMatchObject({ status: 429 });

    const after = await scrape();
    const req = (token: string, route: string, status: string) => valueOf(after, 'skillboss_sidecar_requests_total', { token, route, status });
    expect(req(spender.token.id, '/v1/chat/completions', '200')).toBe(3);
    expect(req(broke.token.id, '/v1/chat/completions', '402')).toBe(1);
    expect(req(reader.token.id, '/v1/chat/completions', '403')).toBe(1);
    expect(req(limited.token.id, '/v1/models', '200')).toBe(1);
    expect(req(limited.token.id, '/v1/models', '429')).toBe(1);

    // Only requests that went upstream are timed: 3 chats and 1 model list, none of the refusals.
    expect(chatCount(after) - chatCount(before)).toBe(3);
    expect(modelsCount(after) - modelsCount(before)).toBe(1);

    expect(valueOf(after, 'skillboss_sidecar_budget_refusals_total', { token: broke.token.id })).toBe(1);
    expect(valueOf(after, 'skillboss_sidecar_rate_limit_refusals_total', { token: limited.token.id, reason: 'rate_limit_exceeded' })).toBe(1);

    // Spend equals the ledger, to the micro-dollar, and the remaining budget is what is left of $1.
    const spentMicros = s.daemon.db.prepare('SELECT SUM(cost_micros) FROM usage WHERE token_id = ?').pluck().get(spender.token.id) as number;
    expect(spentMicros).toBeGreaterThan(0);
    expect(valueOf(after, 'skillboss_sidecar_spend_dollars_total', { token: spender.token.id, model: 'gpt-4o-mini' })).toBeCloseTo(spentMicros / 1e6, 9);
    expect(valueOf(after, 'skillboss_sidecar_budget_remaining_dollars', { token: spender.token.id })).toBeCloseTo(1 - spentMicros / 1e6, 9);
    expect(valueOf(after, 'skillboss_sidecar_budget_dollars', { token: spender.token.id })).toBe(1);
    expect(valueOf(after, 'skillboss_sidecar_period_spend_dollars', { token: spender.token.id })).toBeCloseTo(spentMicros / 1e6, 9);
    expect(valueOf(after, 'skillboss_sidecar_llm_tokens_total', { token: spender.token.id, model: 'gpt-4o-mini', kind: 'completion' })).toBeGreaterThan(0);
    expect(valueOf(after, 'skillboss_sidecar_budget_remaining_dollars', { token: reader.token.id })).toBeUndefined();
    expect(valueOf(after, 'skillboss_sidecar_token_info', { token: spender.token.id, name: 'spender' })).toBe(1);

    // The upstream balance as last synced.
    await s.daemon.sync();
    const synced = await scrape();
    expect(valueOf(synced, 'skillboss_sidecar_upstream_balance_dollars')).toBeCloseTo(s.sim.balanceMicros() / 1e6, 6);
    expect(valueOf(synced, 'skillboss_sidecar_upstream_up')).toBe(1);
  });

  it('counts budget alerts from the budget events', async () => {
    const t = s.token({ name: 'alerted', budgetUsd: 5 });
    const before = n(valueOf(await scrape(), 'skillboss_sidecar_budget_alerts_total', { token: t.token.id, kind: 'budget_80' }));
    s.daemon.events.emit('budget', { kind: 'budget_80', token_id: t.token.id, period: '2030-01', spent_micros: 4_000_000, budget_micros: 5_000_000 });
    expect(valueOf(await scrape(), 'skillboss_sidecar_budget_alerts_total', { token: t.token.id, kind: 'budget_80' })).toBe(before + 1);
  });

  it('answers loopback peers only', () => {
    for (const a of ['127.0.0.1', '127.8.9.10', '::1', '::ffff:127.0.0.1']) expect(isLoopbackPeer(a), a).toBe(true);
    for (const a of [undefined, '10.0.0.1', '192.168.1.2', '::ffff:10.0.0.1', 'fe80::1', '128.0.0.1']) expect(isLoopbackPeer(a), String(a)).toBe(false);
  });
});

describe('the test\'s exposition parser', () => {
  it('is strict: it rejects what Prometheus would', () => {
    const bad = [
      'no_newline 1',
      'bad-name 1\n',
      'm{l="unterminated} 1\n',
      'm{l="a",l="b"} 1\n',
      'm{l="\\q"} 1\n',
      'm one\n',
      'm nano\n',
      '# HELP m bad \\q escape\n',
      '# TYPE c counter\nc -1\n',
      'a 1\nb 1\na{x="1"} 2\n',
      'm 1\n# TYPE m gauge\n',
      'm{a="1"} 1\nm{a="1"} 2\n',
      '# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\nh_count 1\nh_sum 1\n',
      '# TYPE h histogram\nh_bucket{le="+Inf"} 2\nh_count 3\nh_sum 1\n',
    ];
    for (const text of bad) expect(() => parsePrometheusText(text), text).toThrow();
    const good = parsePrometheusText('# HELP m a \\\\ help\n# TYPE m counter\nm{a="x\\"y\\n"} 1.5e3\n# TYPE h histogram\nh_bucket{le="1"} 1\nh_bucket{le="+Inf"} 2\nh_sum 3\nh_count 2\ng NaN\ng2 Nan\ng3 -Inf\n');
    expect(valueOf(good, 'm', { a: 'x"y\n' })).toBe(1500);
    expect(good.get('m')!.help).toBe('a \\ help');
    // Values are what Go's ParseFloat accepts (prom-client writes "Nan" for an empty event-loop histogram).
    expect(valueOf(good, 'g2')).toBeNaN();
    expect(valueOf(good, 'g3')).toBe(-Infinity);
  });
});

describe('/metrics off', () => {
  it('is off by default: 404 with a hint, and nothing listens to the events', async () => {
    const off = await startStack();
    try {
      const adminSecret = readFileSync(join(off.dataDir, 'admin-secret'), 'utf8').trim();
      const e = await errorOf(await fetch(`${off.daemon.url}/metrics`, { headers: { authorization: `Bearer ${adminSecret}` } }));
      expect(e).toMatchObject({ status: 404, code: 'metrics_disabled' });
      expect(e.message).toContain('--metrics');
      // The metrics listener is the only difference between the two daemons' subscribers.
      expect(off.daemon.events.listenerCount('request')).toBe(s.daemon.events.listenerCount('request') - 1);
    } finally {
      await off.close();
    }
  });
});

describe('serve --metrics (the CLI), scraped with curl as Prometheus would', () => {
  it('serves metrics that count a request made through it, and logs it to <dataDir>/logs', { timeout: 120_000 }, async () => {
    const simKey = `sk-test-${randomBase62(32)}`;
    const sim = await startSimulator({ apiKey: simKey });
    const dir = tempDir('sbs-metrics-');
    osKeychain(dir).set(simKey);
    const serve = startCli(['serve', '--port', '0', '--upstream', sim.url, '--metrics', '--data-dir', dir]);
    try {
      const base = (await serve.waitFor(/listening (http:\/\/\S+)\/v1/))[1]!;
      const created = JSON.parse((await runCli(['token', 'create', '--name', 'm', '--preset', 'write', '--json', '--data-dir', dir])).stdout) as { id: string; api_key: string };
      const r = await fetch(`${base}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${created.api_key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'count me' }] }),
      });
      expect(r.status).toBe(200);
      // Prometheus: authorization: { credentials_file: <data dir>/admin-secret }. Async: the simulator lives in this process.
      const scraped = await promisify(execFile)('sh', ['-c', `curl -sf -H "Authorization: Bearer $(cat '${dir}/admin-secret')" '${base}/metrics'`], { encoding: 'utf8' });
      const f = parsePrometheusText(scraped.stdout);
      expect(valueOf(f, 'skillboss_sidecar_requests_total', { token: created.id, route: '/v1/chat/completions', status: '200' })).toBe(1);

      expect(await serve.stop()).toBe(0);
      const log = readFileSync(join(dir, 'logs', 'current.log'), 'utf8');
      const entries = log.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
      expect(entries.find((e) => e.msg === 'request')).toMatchObject({ token_id: created.id, route: '/v1/chat/completions', status: 200, model: 'gpt-4o-mini' });
      expect(entries.at(-1)!.msg).toBe('stopped');
      for (const secret of [created.api_key, simKey, readFileSync(join(dir, 'admin-secret'), 'utf8').trim()]) expect(log).not.toContain(secret);
    } finally {
      await serve.stop();
      await sim.close();
      osKeychain(dir).remove();
    }
  });
});
