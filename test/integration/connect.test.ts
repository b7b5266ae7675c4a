/**
 * `skillboss-sidecar connect AGENT`, one test per agent, run as users run it
 * (the compiled CLI in a child process) against a real daemon: the file the
 * agent reads is parsed back with the parser the agent's format needs, the
 * token it names works against the daemon, a user's file is merged (backed
 * up, with a diff) rather than overwritten, and a second run reuses the token.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseToml } from 'smol-toml';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { runCli } from '../helpers/cli.js';
import { startStack, tempDir, type Stack } from '../helpers/stack.js';

let s: Stack;
let home: string;
beforeAll(async () => {
  s = await startStack();
});
afterAll(async () => {
  await s?.close();
});
beforeEach(() => {
  home = tempDir('sbs-connect-home-');
});

/** The CLI with a fresh HOME, so the agents' config files land in a temp dir. */
function connect(args: string[]) {
  return runCli(['--data-dir', s.dataDir, 'connect', ...args], {
    env: { HOME: home, XDG_CONFIG_HOME: '', CODEX_HOME: '', CLAUDE_CONFIG_DIR: '', SHELL: '/bin/bash' },
  });
}

async function okConnect(args: string[]) {
  const r = await connect(args);
  expect(r.code, r.stderr + r.stdout).toBe(0);
  return r;
}

function liveTokens(name: string) {
  return s.tokens.list().filter((t) => t.name === name && t.revokedAt === null);
}

/** The secret in the token's env sink, as `env --token` reads it. */
function sinkSecret(name: string): string {
  const [t] = liveTokens(name);
  const text = readFileSync(t!.meta.envSink!, 'utf8');
  return /^SKILLBOSS_API_KEY=(.+)$/m.exec(text)![1]!;
}

async function chatStatus(baseUrl: string, secret: string, model = 'gpt-4o-mini'): Promise<number> {
  s.daemon.deps.principals.clear();
  const res = await fetch(`${baseUrl}/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }] }),
  });
  await res.arrayBuffer();
  return res.status;
}

/** Export lines (bash syntax) as a map. */
function exportsOf(stdout: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of stdout.matchAll(/^export ([A-Z_]+)='([^']*)'$/gm)) out[m[1]!] = m[2]!;
  return out;
}

describe('connect', () => {
  it('codex: a Responses provider in ~/.codex/config.toml merged into the user\'s file, backed up; the token is reused', async () => {
    const path = join(home, '.codex', 'config.toml');
    mkdirSync(join(home, '.codex'));
    writeFileSync(path, 'approval_policy = "never"\n\n[profiles.fast]\nmodel = "o4-mini"\n');
    const r = await okConnect(['codex', '--model', 'gpt-4o']);
    expect(r.stdout).toContain('+wire_api = "responses"');
    const doc = parseToml(readFileSync(path, 'utf8')) as Record<string, any>;
    expect(doc).toMatchObject({ approval_policy: 'never', profiles: { fast: { model: 'o4-mini' } }, model: 'gpt-4o', model_provider: 'skillboss' });
    expect(doc.model_providers.skillboss).toEqual({ name: 'SkillBoss Sidecar', base_url: s.baseURL, env_key: 'SKILLBOSS_API_KEY', wire_api: 'responses' });
    const backups = readdirSync(join(home, '.codex')).filter((f) => f.startsWith('config.toml.bak-'));
    expect(backups).toHaveLength(1);
    expect(readFileSync(join(home, '.codex', backups[0]!), 'utf8')).toBe('approval_policy = "never"\n\n[profiles.fast]\nmodel = "o4-mini"\n');

    const [token] = liveTokens('codex');
    expect(token!.scopes).toEqual(['models:read', 'models:use']);
    expect(token!.budget).toBe(10_000_000);
    expect(await chatStatus(s.baseURL, sinkSecret('codex'))).toBe(200);

    const again = await okConnect(['codex', '--model', 'gpt-4o']);
    expect(again.stdout).toContain('nothing to change');
    expect(again.stdout).toContain(`Reusing ${token!.id}`);
    expect(liveTokens('codex')).toHaveLength(1);
    expect(readdirSync(join(home, '.codex')).filter((f) => f.startsWith('config.toml.bak-'))).toHaveLength(1);
  });

  it('a symlinked config (dotfiles) is written through the link, which stays a link', async () => {
    const dotfiles = join(home, 'dotfiles');
    mkdirSync(dotfiles);
    writeFileSync(join(dotfiles, 'codex.toml'), 'approval_policy = "never"\n');
    mkdirSync(join(home, '.codex'));
    symlinkSync(join(dotfiles, 'codex.toml'), join(home, '.codex', 'config.toml'));
    await okConnect(['codex']);
    expect(lstatSync(join(home, '.codex', 'config.toml')).isSymbolicLink()).toBe(true);
    expect(parseToml(readFileSync(join(dotfiles, 'codex.toml'), 'utf8'))).toMatchObject({ approval_policy: 'never', model_provider: 'skillboss' });
    expect(readdirSync(dotfiles).filter((f) => f.startsWith('codex.toml.bak-'))).toHaveLength(1);
  });

  it('opencode: an @ai-sdk/openai-compatible provider in opencode.json, other keys kept', async () => {
    const dir = join(home, '.config', 'opencode');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'opencode.json'), JSON.stringify({ theme: 'tokyonight', provider: { ollama: { npm: '@ai-sdk/openai-compatible' } } }));
    await okConnect(['opencode', '--model', 'gpt-4o']);
    const doc = JSON.parse(readFileSync(join(dir, 'opencode.json'), 'utf8'));
    expect(doc.theme).toBe('tokyonight');
    expect(doc.provider.ollama).toEqual({ npm: '@ai-sdk/openai-compatible' });
    expect(doc.provider.skillboss).toEqual({
      npm: '@ai-sdk/openai-compatible',
      name: 'SkillBoss Sidecar',
      options: { baseURL: s.baseURL, apiKey: '{env:SKILLBOSS_API_KEY}' },
      models: { 'gpt-4o': { name: 'gpt-4o' } },
    });
    expect(doc.model).toBe('skillboss/gpt-4o');
    expect(await chatStatus(doc.provider.skillboss.options.baseURL, sinkSecret('opencode'), 'gpt-4o')).toBe(200);
  });

  it('continue: a model first in ~/.continue/config.yaml, the user\'s models and comments kept', async () => {
    const dir = join(home, '.continue');
    mkdirSync(dir);
    writeFileSync(join(dir, 'config.yaml'), 'name: Mine\nversion: 1.0.0\nschema: v1\nmodels:\n  - name: local # my ollama\n    provider: ollama\n    model: llama3\n');
    await okConnect(['continue', '--model', 'gpt-4o']);
    const text = readFileSync(join(dir, 'config.yaml'), 'utf8');
    expect(text).toContain('# my ollama');
    const doc = parseYaml(text);
    expect(doc.models).toHaveLength(2);
    expect(doc.models[0]).toMatchObject({ provider: 'openai', model: 'gpt-4o', apiBase: s.baseURL, apiKey: '${{ secrets.SKILLBOSS_API_KEY }}', capabilities: ['tool_use'] });
    expect(doc.models[1]).toEqual({ name: 'local', provider: 'ollama', model: 'llama3' });
    expect(await chatStatus(doc.models[0].apiBase, sinkSecret('continue'))).toBe(200);
  });

  it('qwen: the OpenAI variables Qwen Code reads, for eval, with the same token on every run', async () => {
    const r = await okConnect(['qwen', '--model', 'gpt-4o']);
    const env = exportsOf(r.stdout);
    expect(Object.keys(env).sort()).toEqual(['OPENAI_API_KEY', 'OPENAI_BASE_URL', 'OPENAI_MODEL']);
    expect(env).toMatchObject({ OPENAI_BASE_URL: s.baseURL, OPENAI_MODEL: 'gpt-4o' });
    expect(await chatStatus(env.OPENAI_BASE_URL!, env.OPENAI_API_KEY!, env.OPENAI_MODEL)).toBe(200);
    const again = exportsOf((await okConnect(['qwen'])).stdout);
    expect(again.OPENAI_API_KEY).toBe(env.OPENAI_API_KEY);
    expect(liveTokens('qwen')).toHaveLength(1);
    // Only the lines go to stdout: eval runs nothing else.
    expect(r.stdout.trim().split('\n').every((l) => l.startsWith('export '))).toBe(true);
  });

  it('claude: --print gives ANTHROPIC_BASE_URL without /v1 and ANTHROPIC_AUTH_TOKEN; --write a settings.json whose apiKeyHelper prints the token', async () => {
    const printed = exportsOf((await okConnect(['claude', '--print'])).stdout);
    expect(printed.ANTHROPIC_BASE_URL).toBe(s.daemon.url);
    expect(printed.ANTHROPIC_AUTH_TOKEN).toMatch(/^sk-sbl-/);
    // The simulator's one claude-* model, for the main and the background calls alike.
    expect(printed).toMatchObject({ ANTHROPIC_MODEL: 'claude-4-5-sonnet', ANTHROPIC_SMALL_FAST_MODEL: 'claude-4-5-sonnet', ANTHROPIC_DEFAULT_HAIKU_MODEL: 'claude-4-5-sonnet' });
    expect(await chatStatus(`${printed.ANTHROPIC_BASE_URL}/v1`, printed.ANTHROPIC_AUTH_TOKEN!, printed.ANTHROPIC_MODEL)).toBe(200);

    const dir = join(home, '.claude');
    mkdirSync(dir);
    writeFileSync(join(dir, 'settings.json'), JSON.stringify({ permissions: { allow: ['Bash(ls:*)'] }, env: { FOO: 'bar', ANTHROPIC_AUTH_TOKEN: 'stale' } }));
    await okConnect(['claude']);
    const doc = JSON.parse(readFileSync(join(dir, 'settings.json'), 'utf8'));
    expect(doc.permissions).toEqual({ allow: ['Bash(ls:*)'] });
    expect(doc.env).toEqual({ FOO: 'bar', ANTHROPIC_BASE_URL: s.daemon.url, ANTHROPIC_SMALL_FAST_MODEL: 'claude-4-5-sonnet', ANTHROPIC_DEFAULT_HAIKU_MODEL: 'claude-4-5-sonnet' });
    expect(doc.model).toBe('claude-4-5-sonnet');
    const helperOutput = execFileSync('/bin/sh', ['-c', doc.apiKeyHelper], { encoding: 'utf8' }).trim();
    expect(helperOutput).toBe(printed.ANTHROPIC_AUTH_TOKEN);
  });

  it('claude: the model comes from the synced list (a Sonnet, a Haiku for background calls, else the first chat model) unless --model names one', async () => {
    const prices = s.daemon.deps.prices;
    const entry = (id: string) => ({ id, object: 'model', pricing: { prompt: 1, completion: 1 } });
    const settings = () => JSON.parse(readFileSync(join(home, '.claude', 'settings.json'), 'utf8'));
    // After the stack's own start-up sync; the daemon's sync in `finally` comes later still (two CLI runs later).
    const t = Date.now();
    try {
      prices.syncFromUpstream(['gpt-4o-mini', 'text-embedding-3-small', 'claude-3-5-haiku', 'claude-4-5-sonnet'].map(entry), t);
      await okConnect(['claude']);
      expect(settings()).toMatchObject({ model: 'claude-4-5-sonnet', env: { ANTHROPIC_SMALL_FAST_MODEL: 'claude-3-5-haiku', ANTHROPIC_DEFAULT_HAIKU_MODEL: 'claude-3-5-haiku' } });

      // A later sync without claude-* models: those rows are stale, and the first chat model (first listed ever: the stack's sync had gpt-4o-mini first) is chosen.
      prices.syncFromUpstream(['text-embedding-3-small', 'gpt-4o', 'gpt-4o-mini'].map(entry), t + 1);
      const printed = exportsOf((await okConnect(['claude', '--print'])).stdout);
      expect(printed).toMatchObject({ ANTHROPIC_MODEL: 'gpt-4o-mini', ANTHROPIC_SMALL_FAST_MODEL: 'gpt-4o-mini' });

      await okConnect(['claude', '--model', 'gpt-4o']);
      expect(settings()).toMatchObject({ model: 'gpt-4o', env: { ANTHROPIC_DEFAULT_HAIKU_MODEL: 'gpt-4o' } });
    } finally {
      s.daemon.db.prepare("DELETE FROM models WHERE id = 'claude-3-5-haiku'").run();
      await s.daemon.sync();
    }
  });

  it('cursor: the settings to paste, with the base URL and a working token', async () => {
    const r = await okConnect(['cursor', '--model', 'gpt-4o']);
    expect(r.stdout).toContain(`Override OpenAI Base URL:   ${s.baseURL}`);
    const secret = /OpenAI API Key:\s+(sk-sbl-\S+)/.exec(r.stdout)![1]!;
    expect(await chatStatus(s.baseURL, secret)).toBe(200);
    expect(r.stdout).toContain('from its own servers');
  });

  it('openai: the variables every OpenAI SDK reads; --write is refused for an agent without a file', async () => {
    const env = exportsOf((await okConnect(['openai', '--budget', 'none', '--preset', 'write'])).stdout);
    expect(env.OPENAI_API_KEY).toBe(env.SKILLBOSS_API_KEY);
    expect(await chatStatus(env.OPENAI_BASE_URL!, env.OPENAI_API_KEY!)).toBe(200);
    const [t] = liveTokens('openai');
    expect(t!.budget).toBeNull();
    expect(t!.scopes).toContain('services:use');
    const w = await connect(['openai', '--write']);
    expect(w.code).toBe(1);
    expect(w.stderr).toContain('no configuration file to write');
  });

  it('--dry-run shows the diff and changes nothing; an unreadable file is refused and left alone', async () => {
    const before = s.tokens.list().length;
    const r = await okConnect(['opencode', '--dry-run']);
    expect(r.stdout).toContain('+  "model": "skillboss/claude-4-5-sonnet"');
    expect(r.stdout).toContain('dry run');
    expect(existsSync(join(home, '.config', 'opencode', 'opencode.json'))).toBe(false);
    expect(s.tokens.list().length).toBe(before);

    const dir = join(home, '.config', 'opencode');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'opencode.json'), '{ // a comment\n "theme": "x" }');
    const bad = await connect(['opencode']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('cannot merge into');
    expect(readFileSync(join(dir, 'opencode.json'), 'utf8')).toBe('{ // a comment\n "theme": "x" }');
    expect(readdirSync(dir)).toEqual(['opencode.json']);
    expect(s.tokens.list().length).toBe(before);

    const unknown = await connect(['vim']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('choose one of: codex, opencode, continue, qwen, claude, cursor, openai');
  });
});
