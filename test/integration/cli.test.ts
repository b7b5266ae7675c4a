/**
 * The command-line flow a human follows, with the real compiled CLI in child
 * processes: simulator, key set, serve, token create, an agent with the openai
 * SDK — and afterwards, the real key is nowhere on disk or in the output.
 */
import OpenAI from 'openai';
import { readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBase62 } from '../../proxy/tokens/format.js';
import { runCli, startCli, type Background } from '../helpers/cli.js';
import { tempDir } from '../helpers/stack.js';

const simKey = `sk-cli-test-${randomBase62(32)}`;
let dataDir: string;
let sim: Background;
let serve: Background;
let simUrl: string;
let baseURL: string;
const printed: string[] = [];
const tokenSecrets: string[] = [];

async function cli(args: string[], input?: string) {
  const r = await runCli([...args, '--data-dir', dataDir], input === undefined ? {} : { input });
  printed.push(r.stdout, r.stderr);
  return r;
}

/** Polls a condition until it holds or the deadline passes (the daemon notices CLI writes on a timer). */
async function eventually<T>(fn: () => Promise<T>, ok: (v: T) => boolean, deadlineMs = 1000): Promise<T> {
  const until = Date.now() + deadlineMs;
  for (;;) {
    const v = await fn();
    if (ok(v) || Date.now() > until) return v;
    await new Promise((r) => setImmediate(r));
  }
}

beforeAll(async () => {
  dataDir = tempDir('sbs-cli-');
  sim = startCli(['simulator', '--port', '0', '--api-key', simKey, '--balance', '50']);
  simUrl = (await sim.waitFor(/simulator (http:\S+)/))[1]!;
  const set = await cli(['key', 'set', '--upstream', simUrl], simKey);
  expect(set.code, set.stderr).toBe(0);
  expect(set.stdout).toContain(`sk-…${simKey.slice(-4)}`);
  expect(set.stdout).toContain('SkillBoss accepted the key');
  serve = startCli(['serve', '--port', '0', '--upstream', simUrl, '--data-dir', dataDir]);
  baseURL = (await serve.waitFor(/listening (http:\S+)/))[1]!;
});

afterAll(async () => {
  await serve?.stop();
  await sim?.stop();
  await runCli(['key', 'remove', '--data-dir', dataDir]).catch(() => undefined);
  rmSync(dataDir, { recursive: true, force: true });
});

describe('the CLI flow', () => {
  it('prints help', async () => {
    const r = await runCli(['--help']);
    expect(r.code).toBe(0);
    for (const cmd of ['demo', 'serve', 'simulator', 'key', 'token', 'usage', 'doctor']) expect(r.stdout).toContain(cmd);
  });

  it('creates a token with --json, and an agent uses it with the openai SDK, streamed and not', async () => {
    const r = await cli(['token', 'create', '--name', 'cli-agent', '--preset', 'write', '--budget', '5', '--expires', '30d', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const created = JSON.parse(r.stdout) as { id: string; api_key: string; name: string; scopes: string[]; monthly_budget: number; expires_at: string };
    expect(created).toMatchObject({ name: 'cli-agent', monthly_budget: 5 });
    expect(created.id).toMatch(/^tok_/);
    expect(created.api_key).toMatch(/^sk-sbl-/);
    tokenSecrets.push(created.api_key);
    expect(Date.parse(created.expires_at)).toBeGreaterThan(Date.now() + 29 * 86_400_000);

    const openai = new OpenAI({ apiKey: created.api_key, baseURL, maxRetries: 0 });
    // The daemon notices the CLI's new token within a second.
    const first = await eventually(
      () => openai.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'from the cli test' }] }).catch((e: unknown) => e),
      (v) => !(v instanceof OpenAI.AuthenticationError),
    );
    expect((first as OpenAI.Chat.Completions.ChatCompletion).choices[0]!.message.content).toBe('Echo: from the cli test');
    const stream = await openai.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'a streamed one' }], stream: true });
    let text = '';
    for await (const c of stream) text += c.choices[0]?.delta?.content ?? '';
    expect(text).toBe('Echo: a streamed one');

    const usage = await cli(['usage', '--token', created.id, '--json']);
    const u = JSON.parse(usage.stdout) as { requests: Array<{ model: string; cost_usd: number; status: number; prompt_tokens: number }>; totals: { requests: number; spent_this_period_usd: number; monthly_budget_usd: number } };
    expect(u.requests).toHaveLength(2);
    expect(u.requests.every((q) => q.model === 'gpt-4o-mini' && q.status === 200 && q.cost_usd > 0 && q.prompt_tokens > 0)).toBe(true);
    expect(u.totals.requests).toBe(2);
    expect(u.totals.monthly_budget_usd).toBe(5);
    expect(u.totals.spent_this_period_usd).toBeCloseTo(u.requests.reduce((a, q) => a + q.cost_usd, 0), 9);

    const list = JSON.parse((await cli(['token', 'list', '--json'])).stdout) as { tokens: Array<{ id: string; spent_this_period: number }> };
    expect(list.tokens.find((t) => t.id === created.id)?.spent_this_period).toBeGreaterThan(0);
    expect(JSON.stringify(list)).not.toContain(created.api_key);
  });

  it('revokes from the CLI and the running daemon refuses the token within a second', async () => {
    const created = JSON.parse((await cli(['token', 'create', '--name', 'short-lived', '--preset', 'read-only', '--json'])).stdout) as { id: string; api_key: string };
    const models = () => fetch(`${baseURL}/models`, { headers: { authorization: `Bearer ${created.api_key}` } }).then((r) => r.status);
    expect(await eventually(models, (s) => s === 200)).toBe(200);
    const revoked = await cli(['token', 'revoke', created.id]);
    expect(revoked.stdout).toContain(`Revoked ${created.id}`);
    const started = Date.now();
    expect(await eventually(models, (s) => s === 401)).toBe(401);
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('takes a removed or newly set key without a restart', async () => {
    const created = JSON.parse((await cli(['token', 'create', '--name', 'key-watcher', '--preset', 'read-only', '--json'])).stdout) as { api_key: string };
    const models = () => fetch(`${baseURL}/models`, { headers: { authorization: `Bearer ${created.api_key}` } });
    expect((await eventually(models, (r) => r.status === 200)).status).toBe(200);
    await cli(['key', 'remove']);
    const missing = await eventually(models, (r) => r.status === 503);
    expect(missing.status).toBe(503);
    const body = (await missing.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('upstream_key_missing');
    expect(body.error.message).toContain('skillboss-sidecar key set');
    await cli(['key', 'set', '--no-check'], simKey);
    expect((await eventually(models, (r) => r.status === 200)).status).toBe(200);
  });

  it('refuses a second daemon on the same data dir with a clear message', async () => {
    const r = await cli(['serve', '--port', '0', '--upstream', simUrl]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('another sidecar daemon is already serving');
    expect(r.stderr).toContain(`pid ${serve.child.pid}`);
  });

  it('doctor reports each check', async () => {
    const r = await cli(['doctor', '--upstream', simUrl, '--json']);
    const out = JSON.parse(r.stdout) as { ok: boolean; checks: Array<{ name: string; ok: boolean; detail: string }> };
    const byName = Object.fromEntries(out.checks.map((c) => [c.name, c]));
    expect(byName['data dir']?.ok).toBe(true);
    expect(byName.keychain?.ok).toBe(true);
    expect(byName.key?.ok).toBe(true);
    expect(byName.port?.detail).toContain('is running');
    expect(byName['key valid']?.ok).toBe(true);
    expect(out.ok).toBe(true);
  });

  it('never reads the real key from argv', async () => {
    const r = await cli(['key', 'set', simKey]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/too many arguments|unknown/i);
  });

  it('leaves the real key nowhere in the data dir or in what the CLI and daemon printed', async () => {
    await serve.stop();
    const filesContaining = (needle: string) => {
      const hits: string[] = [];
      const walk = (dir: string) => {
        for (const name of readdirSync(dir)) {
          const p = join(dir, name);
          if (statSync(p).isDirectory()) walk(p);
          else if (readFileSync(p).includes(needle)) hits.push(p);
        }
      };
      walk(dataDir);
      return hits;
    };
    // The search works: what the database should hold, it finds.
    expect(filesContaining('cli-agent').length).toBeGreaterThan(0);
    expect(filesContaining(simKey)).toEqual([]);
    for (const secret of tokenSecrets) expect(filesContaining(secret)).toEqual([]);
    expect(printed.join('\n') + serve.output()).not.toContain(simKey);
    serve = startCli(['serve', '--port', '0', '--upstream', simUrl, '--data-dir', dataDir]);
    baseURL = (await serve.waitFor(/listening (http:\S+)/))[1]!;
  });
});
