/**
 * Qwen Code (`qwen -p`, chat completions) through the sidecar, with the
 * variables `connect qwen` prints: a chat turn, then a tool round trip
 * (read_file) that ends by itself in text.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, tempDir, type Stack } from '../helpers/stack.js';
import { agentBin, connectAgent, runReadmeBlock, expectLedgerMatchesUpstream, ledger, modelCalls, runAgent } from './harness.js';

const bin = agentBin('qwen');
let s: Stack;
let home: string;
let token: { tokenId: string; secret: string };
let vars: Record<string, string>;

describe.skipIf(!bin)('Qwen Code through the sidecar', () => {
  beforeAll(async () => {
    s = await startStack();
    home = tempDir('sbs-qwen-home-');
    const c = await connectAgent(s, home, 'qwen');
    token = c;
    vars = {};
    for (const m of c.stdout.matchAll(/^export ([A-Z_]+)='([^']*)'$/gm)) vars[m[1]!] = m[2]!;
  }, 60_000);
  afterAll(async () => {
    await s?.close();
  });

  const qwen = (prompt: string) => runAgent(bin!, ['-p', prompt], { env: { HOME: home, ...vars }, cwd: home });

  it('connect prints the three variables Qwen Code reads', () => {
    expect(Object.keys(vars).sort()).toEqual(['OPENAI_API_KEY', 'OPENAI_BASE_URL', 'OPENAI_MODEL']);
    expect(vars.OPENAI_API_KEY).toBe(token.secret);
  });

  it('a chat turn, streamed and metered', async () => {
    s.sim.clearRequests();
    const since = ledger(s, token.tokenId).length;
    const r = await qwen('Say hello to the sidecar');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('Echo: Say hello to the sidecar');
    expectLedgerMatchesUpstream(s, token.tokenId, '/v1/chat/completions', since);
  }, 180_000);

  it('a tool round trip: read_file runs, the file comes back, and the turn ends in text', async () => {
    const file = join(home, 'marker.txt');
    writeFileSync(file, 'qwen-marker-23\n');
    s.sim.clearRequests();
    const since = ledger(s, token.tokenId).length;
    const r = await qwen(`Use read_file: {"file_path": "${file}"}`);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('Tool result: qwen-marker-23');
    const calls = modelCalls(s, '/v1/chat/completions');
    const withResult = calls.filter((c) => c.messages.at(-1)?.role === 'tool' && JSON.stringify(c.messages.at(-1).content).includes('qwen-marker-23'));
    expect(withResult).toHaveLength(1);
    // Qwen Code may run a memory step after the turn; the whole run stays a handful of calls.
    expect(calls.length).toBeLessThanOrEqual(6);
    expectLedgerMatchesUpstream(s, token.tokenId, '/v1/chat/completions', since);
  }, 180_000);
  it('the README block, as a user pastes it: connect, the eval line it printed, and a task that uses a tool', async () => {
    const r = await runReadmeBlock(s, 'qwen', tempDir('sbs-qwen-readme-'));
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(r.stdout).toMatch(/Tool result: .*hello from qwen/);
  }, 300_000);
});
