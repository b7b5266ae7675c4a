/**
 * Codex CLI (`codex exec`, the Responses API with streamed events) through
 * the sidecar, configured by `connect codex`: a chat turn, then a tool round
 * trip (exec_command) that ends by itself in text.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, tempDir, type Stack } from '../helpers/stack.js';
import { agentBin, connectAgent, runReadmeBlock, expectLedgerMatchesUpstream, ledger, modelCalls, runAgent } from './harness.js';

const bin = agentBin('codex');
let s: Stack;
let home: string;
let token: { tokenId: string; secret: string };

describe.skipIf(!bin)('Codex CLI through the sidecar', () => {
  beforeAll(async () => {
    s = await startStack();
    home = tempDir('sbs-codex-home-');
    token = await connectAgent(s, home, 'codex');
  }, 60_000);
  afterAll(async () => {
    await s?.close();
  });

  const codex = (prompt: string) =>
    runAgent(bin!, ['exec', '--skip-git-repo-check', '--color', 'never', prompt], { env: { HOME: home, SKILLBOSS_API_KEY: token.secret }, cwd: home });

  it('a chat turn, streamed over /v1/responses and metered', async () => {
    s.sim.clearRequests();
    const since = ledger(s, token.tokenId).length;
    const r = await codex('Say hello to the sidecar');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('Echo: Say hello to the sidecar');
    const calls = modelCalls(s, '/v1/responses');
    expect(calls).toHaveLength(1);
    expect(calls[0]!.stream).toBe(true);
    expectLedgerMatchesUpstream(s, token.tokenId, '/v1/responses', since);
  }, 180_000);

  it('a tool round trip: exec_command runs, its output comes back, and the turn ends in text', async () => {
    s.sim.clearRequests();
    const since = ledger(s, token.tokenId).length;
    const r = await codex('Run the command {"cmd": "echo codex-marker-41"}');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/Tool result: .*codex-marker-41/);
    const calls = modelCalls(s, '/v1/responses');
    expect(calls).toHaveLength(2);
    const last = calls[1]!.input.at(-1);
    expect(last.type).toBe('function_call_output');
    expect(JSON.stringify(last.output)).toContain('codex-marker-41');
    expectLedgerMatchesUpstream(s, token.tokenId, '/v1/responses', since);
  }, 180_000);
  it('the README block, as a user pastes it: connect, the eval line it printed, and a task that uses a tool', async () => {
    const r = await runReadmeBlock(s, 'codex', tempDir('sbs-codex-readme-'));
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(r.stdout).toMatch(/Tool result: .*hello from codex/);
  }, 300_000);
});
