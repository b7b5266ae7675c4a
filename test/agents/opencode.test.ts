/**
 * OpenCode (`opencode run`, chat completions through @ai-sdk/openai-compatible)
 * through the sidecar, configured by `connect opencode`: a chat turn, then a
 * tool round trip (bash) that ends by itself in text.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, tempDir, type Stack } from '../helpers/stack.js';
import { agentBin, connectAgent, runReadmeBlock, expectLedgerMatchesUpstream, ledger, modelCalls, runAgent } from './harness.js';

const bin = agentBin('opencode');
let s: Stack;
let home: string;
let token: { tokenId: string; secret: string };

describe.skipIf(!bin)('OpenCode through the sidecar', () => {
  beforeAll(async () => {
    s = await startStack();
    home = tempDir('sbs-opencode-home-');
    token = await connectAgent(s, home, 'opencode');
  }, 60_000);
  afterAll(async () => {
    await s?.close();
  });

  const opencode = (prompt: string) => runAgent(bin!, ['run', prompt], { env: { HOME: home, SKILLBOSS_API_KEY: token.secret }, cwd: home });

  it('a chat turn, streamed and metered (the title request included)', async () => {
    s.sim.clearRequests();
    const since = ledger(s, token.tokenId).length;
    const r = await opencode('Say hello to the sidecar');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('Echo:');
    expect(r.stdout).toContain('Say hello to the sidecar');
    const calls = modelCalls(s, '/v1/chat/completions');
    expect(calls.every((c) => c.stream === true)).toBe(true);
    expect(calls.filter((c) => Array.isArray(c.tools) && c.tools.length > 0)).toHaveLength(1);
    expectLedgerMatchesUpstream(s, token.tokenId, '/v1/chat/completions', since);
  }, 180_000);

  it('a tool round trip: bash runs, its output comes back, and the turn ends in text', async () => {
    s.sim.clearRequests();
    const since = ledger(s, token.tokenId).length;
    const r = await opencode('Run this with bash: {"command": "echo opencode-marker-17", "description": "Print a marker"}');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('Tool result: opencode-marker-17');
    const agentCalls = modelCalls(s, '/v1/chat/completions').filter((c) => Array.isArray(c.tools) && c.tools.length > 0);
    expect(agentCalls).toHaveLength(2);
    const last = agentCalls[1]!.messages.at(-1);
    expect(last.role).toBe('tool');
    expect(JSON.stringify(last.content)).toContain('opencode-marker-17');
    expectLedgerMatchesUpstream(s, token.tokenId, '/v1/chat/completions', since);
  }, 180_000);
  it('the README block, as a user pastes it: connect, the eval line it printed, and a task that uses a tool', async () => {
    const r = await runReadmeBlock(s, 'opencode', tempDir('sbs-opencode-readme-'));
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(r.stdout).toMatch(/Tool result: .*hello from opencode/);
  }, 300_000);
});
