/**
 * Claude Code itself (the `claude` CLI, non-interactive `-p`) through the
 * sidecar's Anthropic Messages route, configured exactly as
 * `skillboss-sidecar connect claude` tells a user to: ANTHROPIC_BASE_URL is
 * the daemon's URL without /v1, ANTHROPIC_AUTH_TOKEN the agent's own token.
 * A chat, and a tool round trip in which Claude Code really runs its Read
 * tool on a file and the simulator answers from the tool's result.
 *
 * The CLI is installed by `.ci/run` into `.ci/agent-clis` (or the directory
 * SKILLBOSS_AGENT_CLIS names), beside the other agent CLIs: npm, then its
 * install.cjs, which npm 11 does not run by itself. Without it these tests are
 * skipped locally and fail in CI.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, runProcess, type CliResult } from '../helpers/cli.js';
import { ledgerOf } from '../helpers/ledger.js';
import { startStack, tempDir, type Stack } from '../helpers/stack.js';
import { runReadmeBlock } from '../agents/harness.js';

const CLI_DIR = process.env.SKILLBOSS_AGENT_CLIS || fileURLToPath(new URL('../../.ci/agent-clis', import.meta.url));
const BIN = join(CLI_DIR, 'node_modules', '.bin', 'claude');
const installed = existsSync(BIN);
if (!installed && process.env.CI) throw new Error(`Claude Code is not installed in ${CLI_DIR}; .ci/run installs it`);
if (!installed) console.warn(`Claude Code tests skipped: no CLI at ${BIN} (see .ci/run)`);

const MODEL = 'claude-4-5-sonnet';

let s: Stack;
let home: string;
let work: string;

beforeAll(async () => {
  if (!installed) return;
  s = await startStack();
  home = tempDir('sbs-claude-home-');
  work = tempDir('sbs-claude-work-');
  mkdirSync(join(home, '.claude'), { recursive: true });
}, 60_000);
afterAll(async () => {
  await s?.close();
});

type Run = CliResult;

/**
 * `claude -p PROMPT …`; the prompt comes first, since --tools and
 * --allowedTools take every word after them. `secret: null`: the token comes
 * from the settings' apiKeyHelper instead, as `connect claude` writes it.
 */
function claude(secret: string | null, prompt: string, args: string[], connectedHome?: string): Promise<Run> {
  // What `skillboss-sidecar connect claude --print` prints, plus the model SkillBoss calls Sonnet 4.5 for the
  // background model too; none of it when `connect claude` wrote connectedHome's settings.
  const configured = connectedHome
    ? {}
    : {
        ANTHROPIC_BASE_URL: s.daemon.url,
        ...(secret === null ? {} : { ANTHROPIC_AUTH_TOKEN: secret }),
        ANTHROPIC_SMALL_FAST_MODEL: MODEL,
        ANTHROPIC_DEFAULT_HAIKU_MODEL: MODEL,
      };
  return runProcess(BIN, ['-p', prompt, ...(connectedHome ? [] : ['--model', MODEL]), '--max-turns', '4', '--output-format', 'json', ...args], {
    cwd: work,
    env: {
      PATH: process.env.PATH,
      HOME: connectedHome ?? home,
      ...configured,
      // Loopback only: no telemetry, update checks or other traffic to Anthropic.
      CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
      DISABLE_AUTOUPDATER: '1',
    },
    timeoutMs: 120_000,
    what: 'claude',
  });
}

function resultOf(run: Run): { is_error: boolean; result: string; num_turns: number } {
  const line = run.stdout.trim().split('\n').at(-1) ?? '';
  try {
    return JSON.parse(line) as { is_error: boolean; result: string; num_turns: number };
  } catch {
    throw new Error(`claude printed no JSON result (exit ${run.code})\nstdout: ${run.stdout}\nstderr: ${run.stderr}`);
  }
}

const messageRows = (tokenId: string) => ledgerOf(s.daemon.db, tokenId).filter((r) => r.route === '/v1/messages');

describe.skipIf(!installed)('Claude Code through the sidecar', () => {
  it('chats: the answer comes back and every model call is metered', async () => {
    const { token, secret } = s.token({ budgetUsd: 20 });
    const run = await claude(secret, 'Hello from the sidecar test', ['--tools', 'Read']);
    const out = resultOf(run);
    expect(out.is_error, run.stdout + run.stderr).toBe(false);
    expect(out.result).toContain('Hello from the sidecar test');
    const rows = messageRows(token.id);
    expect(rows.length).toBeGreaterThan(0);
    for (const r of rows) expect(r).toMatchObject({ status: 200, usage_source: 'upstream' });
    expect(rows.some((r) => r.streamed === 1 && r.prompt_tokens > 0 && r.completion_tokens > 0 && r.cost_micros > 0)).toBe(true);
  }, 180_000);

  it('runs a tool round trip: the model asks for Read, Claude Code reads the file, the answer quotes it', async () => {
    const { token, secret } = s.token({ budgetUsd: 20 });
    const marker = `marker-${Math.random().toString(36).slice(2, 10)}`;
    const file = join(work, 'notes.txt');
    writeFileSync(file, `The secret word is ${marker}.\n`);
    const run = await claude(secret, `Read this file: ${JSON.stringify({ file_path: file })}`, ['--tools', 'Read', '--allowedTools', 'Read']);
    const out = resultOf(run);
    expect(out.is_error, run.stdout + run.stderr).toBe(false);
    // The tool ran in Claude Code and its result reached the model: the simulator quotes it.
    expect(out.result).toContain(marker);
    expect(out.num_turns).toBeGreaterThanOrEqual(2);
    const sent = s.sim.requests.filter((q) => q.path === '/v1/chat/completions').map((q) => JSON.parse(q.body) as { messages: Array<{ role: string; content: unknown }> });
    expect(sent.some((b) => b.messages.some((m) => m.role === 'tool' && JSON.stringify(m.content).includes(marker)))).toBe(true);
    expect(messageRows(token.id).filter((r) => r.status === 200).length).toBeGreaterThanOrEqual(2);
  }, 180_000);

  it('works configured by `connect claude` alone: no --model, no variables; every call asks for a model SkillBoss serves', async () => {
    const connectedHome = tempDir('sbs-claude-connected-');
    const c = await runCli(['--data-dir', s.dataDir, 'connect', 'claude'], { env: { HOME: connectedHome, CLAUDE_CONFIG_DIR: '' } });
    expect(c.code, c.stderr + c.stdout).toBe(0);
    const token = s.tokens.list().find((t) => t.name === 'claude' && t.revokedAt === null)!;
    const seen = s.sim.requests.length;
    const run = await claude(null, 'Hello from connect claude', ['--tools', 'Read'], connectedHome);
    const out = resultOf(run);
    expect(out.is_error, run.stdout + run.stderr).toBe(false);
    expect(out.result).toContain('Hello from connect claude');
    const rows = messageRows(token.id);
    expect(rows.length).toBeGreaterThan(0);
    for (const r of rows) expect(r.status).toBe(200);
    const models = s.sim.requests.slice(seen).filter((q) => q.path === '/v1/chat/completions').map((q) => (JSON.parse(q.body) as { model: string }).model);
    expect(new Set(models)).toEqual(new Set([MODEL]));
  }, 180_000);

  it('takes the token from an apiKeyHelper, as `connect claude` configures Claude Code', async () => {
    const { token, secret } = s.token({ budgetUsd: 20 });
    const settings = JSON.stringify({ apiKeyHelper: `echo ${secret}` });
    const run = await claude(null, 'Hello through the key helper', ['--settings', settings, '--tools', 'Read']);
    const out = resultOf(run);
    expect(out.is_error, run.stdout + run.stderr).toBe(false);
    expect(out.result).toContain('Hello through the key helper');
    expect(messageRows(token.id).length).toBeGreaterThan(0);
  }, 180_000);

  it('the README block, as a user pastes it: connect claude, then a task that runs Bash', async () => {
    const r = await runReadmeBlock(s, 'claude', tempDir('sbs-claude-readme-'), { CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1', DISABLE_AUTOUPDATER: '1' });
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(r.stdout).toMatch(/Tool result: .*hello from claude/);
  }, 240_000);
});
