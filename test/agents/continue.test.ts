/**
 * Continue's CLI (`cn -p`, chat completions) through the sidecar, configured
 * by `connect continue`: a chat turn, then a tool round trip (Bash) that ends
 * by itself in text.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, tempDir, type Stack } from '../helpers/stack.js';
import { agentBin, connectAgent, runReadmeBlock, expectLedgerMatchesUpstream, ledger, modelCalls, runAgent } from './harness.js';

const bin = agentBin('cn');
let s: Stack;
let home: string;
let token: { tokenId: string; secret: string };

describe.skipIf(!bin)('Continue CLI through the sidecar', () => {
  beforeAll(async () => {
    s = await startStack();
    home = tempDir('sbs-continue-home-');
    token = await connectAgent(s, home, 'continue');
  }, 60_000);
  afterAll(async () => {
    await s?.close();
  });

  const cn = (prompt: string) =>
    runAgent(bin!, ['-p', prompt, '--config', join(home, '.continue', 'config.yaml')], { env: { HOME: home, SKILLBOSS_API_KEY: token.secret }, cwd: home });

  it('a chat turn, streamed and metered', async () => {
    s.sim.clearRequests();
    const since = ledger(s, token.tokenId).length;
    const r = await cn('Say hello to the sidecar');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe('Echo: Say hello to the sidecar');
    expect(modelCalls(s, '/v1/chat/completions')).toHaveLength(1);
    expectLedgerMatchesUpstream(s, token.tokenId, '/v1/chat/completions', since);
  }, 180_000);

  it('a tool round trip: Bash runs, its output comes back, and the turn ends in text', async () => {
    s.sim.clearRequests();
    const since = ledger(s, token.tokenId).length;
    const r = await cn('Run with Bash: {"command": "echo continue-marker-5"}');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('Tool result: continue-marker-5');
    const calls = modelCalls(s, '/v1/chat/completions');
    expect(calls).toHaveLength(2);
    expect(calls[1]!.messages.at(-1).role).toBe('tool');
    expectLedgerMatchesUpstream(s, token.tokenId, '/v1/chat/completions', since);
  }, 180_000);
  it('the README block, as a user pastes it: connect, the eval line it printed, and a task that uses a tool', async () => {
    const r = await runReadmeBlock(s, 'continue', tempDir('sbs-continue-readme-'));
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(r.stdout).toMatch(/Tool result: .*hello from continue/);
  }, 300_000);
});
