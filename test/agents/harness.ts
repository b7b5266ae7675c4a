/**
 * Driving real agent CLIs (Codex, OpenCode, Continue's `cn`, Qwen Code)
 * non-interactively through a real daemon and the simulator, each set up the
 * way a user sets it up: `skillboss-sidecar connect AGENT`, then the agent
 * with the token in SKILLBOSS_API_KEY (what `env --token` exports).
 *
 * The CLIs are not dependencies of the project (together about 900 MB of
 * per-platform binaries): `.ci/run` installs pinned versions into
 * `.ci/agent-clis` (or SKILLBOSS_AGENT_CLIS names a directory holding them).
 * Without them the suites are skipped, except in CI, where they fail.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import { CLI, runCli, runProcess, type CliResult } from '../helpers/cli.js';
import { ledgerOf, type UsageRow } from '../helpers/ledger.js';
import type { Stack } from '../helpers/stack.js';

export const CLI_DIR = process.env.SKILLBOSS_AGENT_CLIS || fileURLToPath(new URL('../../.ci/agent-clis', import.meta.url));

/** The agent CLI's executable, or undefined (and a failure in CI) when it is not installed. */
export function agentBin(name: string): string | undefined {
  const bin = join(CLI_DIR, 'node_modules', '.bin', name);
  if (existsSync(bin)) return bin;
  if (process.env.CI) throw new Error(`${name} is not installed in ${CLI_DIR}; .ci/run installs the agent CLIs`);
  return undefined;
}

export type AgentRun = CliResult;

/** Runs an agent to completion with stdin closed; a run that does not end by itself fails the test. */
export function runAgent(bin: string, args: string[], opts: { env: NodeJS.ProcessEnv; cwd: string; timeoutMs?: number }): Promise<AgentRun> {
  // Only what the agent needs from our environment: no OPENAI_*/ANTHROPIC_* leaking in from the developer's shell.
  const base = { PATH: process.env.PATH, LANG: 'C.UTF-8', TERM: 'dumb', NO_COLOR: '1', CI: '1' };
  return runProcess(bin, args, { env: { ...base, ...opts.env }, cwd: opts.cwd, timeoutMs: opts.timeoutMs ?? 150_000 });
}

/** `connect AGENT` as a user runs it, in `home`; returns the token's id and secret (from its env sink). */
export async function connectAgent(s: Stack, home: string, agent: string, args: string[] = []): Promise<{ tokenId: string; secret: string; stdout: string }> {
  const r = await runCli(['--data-dir', s.dataDir, 'connect', agent, '--model', 'gpt-4o-mini', ...args], {
    env: { HOME: home, XDG_CONFIG_HOME: '', CODEX_HOME: '', CLAUDE_CONFIG_DIR: '', SHELL: '/bin/bash' },
  });
  expect(r.code, r.stderr + r.stdout).toBe(0);
  const token = s.tokens.list().find((t) => t.name === agent && t.revokedAt === null);
  if (!token?.meta.envSink) throw new Error(`connect ${agent} left no token with an env sink`);
  const secret = /^SKILLBOSS_API_KEY=(.+)$/m.exec(readFileSync(token.meta.envSink, 'utf8'))![1]!;
  s.daemon.deps.principals.clear();
  return { tokenId: token.id, secret, stdout: r.stdout };
}

export function ledger(s: Stack, tokenId: string): UsageRow[] {
  return ledgerOf(s.daemon.db, tokenId);
}

/** Bodies of the model calls the simulator received (since the last clearRequests). */
export function modelCalls(s: Stack, path: string): Array<Record<string, any>> {
  return s.sim.requests.filter((r) => r.method === 'POST' && r.path === path).map((r) => JSON.parse(r.body) as Record<string, any>);
}

/**
 * One ledger row per upstream request the agent caused since the token had
 * `since` rows (and the simulator's requests were cleared), each a success:
 * streamed model calls with tokens counted and a cost. Returns the rows.
 */
export function expectLedgerMatchesUpstream(s: Stack, tokenId: string, path: string, since: number): UsageRow[] {
  const rows = ledger(s, tokenId).slice(since);
  expect(rows.map((r) => r.route)).toEqual(s.sim.requests.map((r) => r.path.split('?')[0]));
  const calls = rows.filter((r) => r.route === path);
  expect(calls.length).toBeGreaterThan(0);
  for (const r of calls) {
    expect(r).toMatchObject({ status: 200, streamed: 1, model: 'gpt-4o-mini' });
    expect(r.prompt_tokens).toBeGreaterThan(0);
    expect(r.completion_tokens).toBeGreaterThan(0);
    expect(r.cost_micros).toBeGreaterThan(0);
  }
  return rows;
}

/** The README's copy-paste block for an agent (`<!-- agent-block: AGENT -->` then a sh fence), one command a line. */
export function readmeBlock(agent: string): string[] {
  const readme = readFileSync(fileURLToPath(new URL('../../README.md', import.meta.url)), 'utf8');
  const m = new RegExp(`<!-- agent-block: ${agent} -->\\n\`\`\`sh\\n([\\s\\S]*?)\\n\`\`\``).exec(readme);
  if (!m) throw new Error(`README.md has no agent block for ${agent}`);
  return m[1]!.split('\n').filter((l) => l.trim() !== '');
}

/**
 * Runs the README block for `agent` as a user pastes it into bash, against the stack (found through
 * SKILLBOSS_SIDECAR_DATA_DIR, as after the demo's export line), in a fresh home, with the agent CLIs and a
 * `skillboss-sidecar` command on PATH. A `tok_…` in a line is the id the connect line printed in the same
 * line; the run fails when connect printed no such line.
 */
export async function runReadmeBlock(s: Stack, agent: string, home: string, extraEnv: Record<string, string> = {}): Promise<AgentRun & { connect: string }> {
  const lines = readmeBlock(agent);
  const bin = join(home, '.bin');
  mkdirSync(bin, { recursive: true });
  writeFileSync(join(bin, 'skillboss-sidecar'), `#!/bin/sh\nexec "${process.execPath}" "${CLI}" "$@"\n`, { mode: 0o755 });
  const env = {
    PATH: `${bin}:${join(CLI_DIR, 'node_modules', '.bin')}:${process.env.PATH}`,
    HOME: home,
    SHELL: '/bin/bash',
    SKILLBOSS_SIDECAR_DATA_DIR: s.dataDir,
    ...(process.env.SKILLBOSS_SIDECAR_RUNTIME_DIR ? { SKILLBOSS_SIDECAR_RUNTIME_DIR: process.env.SKILLBOSS_SIDECAR_RUNTIME_DIR } : {}),
    LANG: 'C.UTF-8',
    TERM: 'dumb',
    NO_COLOR: '1',
    CI: '1',
    ...extraEnv,
  };
  const bash = (script: string) => runProcess('/bin/bash', ['-c', `set -e\n${script}`], { env, cwd: home, timeoutMs: 150_000 });
  let rest = lines;
  let connect = '';
  if (lines.slice(1).some((l) => l.includes('tok_…'))) {
    const c = await bash(lines[0]!);
    expect(c.code, c.stderr + c.stdout).toBe(0);
    connect = c.stdout;
    const id = /env --token (tok_[0-9A-Za-z]+)/.exec(c.stdout)?.[1];
    if (!id) throw new Error(`${lines[0]} printed no env --token line:\n${c.stdout}`);
    rest = lines.slice(1).map((l) => l.replace('tok_…', id));
    // The README's eval line is the one connect printed.
    for (const l of rest.filter((x) => x.startsWith('eval '))) expect(c.stdout).toContain(l);
  }
  const r = await bash(rest.join('\n'));
  return { ...r, connect };
}
