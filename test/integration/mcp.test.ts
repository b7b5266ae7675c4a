/**
 * `skillboss-sidecar mcp` (issue 9): an MCP client from the official SDK
 * spawns the compiled CLI over stdio, lists the tools and uses them against a
 * running daemon, including request_access while the test, as the human,
 * approves it.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AccessRequestEvent } from '../../proxy/core/events.js';
import { hashToken } from '../../proxy/tokens/format.js';
import { CLI } from '../helpers/cli.js';
import { startStack, type Stack } from '../helpers/stack.js';

let s: Stack;
const clients: Client[] = [];
beforeAll(async () => {
  s = await startStack({ daemon: { access: { pollIntervalS: 1 } } });
});
afterAll(async () => {
  for (const c of clients) await c.close().catch(() => undefined);
  await s?.close();
});

/** Spawns `skillboss-sidecar <args>` (…mcp) as an MCP client would: only the environment given here (no inherited OPENAI_* variables). */
async function connect(args: string[], env: Record<string, string> = {}): Promise<Client> {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [CLI, ...args],
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    stderr: 'pipe',
  });
  const client = new Client({ name: 'sidecar-test', version: '1.0.0' });
  await client.connect(transport);
  clients.push(client);
  return client;
}

interface ToolResult {
  isError?: boolean;
  content: Array<{ type: string; text: string }>;
}

async function call(client: Client, name: string, args: Record<string, unknown> = {}, opts: Parameters<Client['callTool']>[2] = {}): Promise<{ isError: boolean; text: string; json: Record<string, unknown> }> {
  const r = (await client.callTool({ name, arguments: args }, undefined, opts)) as ToolResult;
  const text = r.content.map((c) => c.text).join('');
  let json: Record<string, unknown> = {};
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    /* an error message */
  }
  return { isError: r.isError === true, text, json };
}

describe('the MCP server over stdio', () => {
  it('lists its tools and uses the agent API with the key from the environment', async () => {
    const { token, secret } = s.token({ preset: 'admin', budgetUsd: 50, name: 'mcp-parent' });
    const client = await connect(['--data-dir', s.dataDir, 'mcp'], { SKILLBOSS_API_KEY: secret, OPENAI_BASE_URL: s.baseURL });
    const tools = (await client.listTools()).tools.map((t) => t.name).sort();
    expect(tools).toEqual(['check_balance', 'create_child_agent', 'list_models', 'request_access', 'revoke_child_agent', 'rotate_key', 'run_service']);

    const balance = await call(client, 'check_balance');
    expect(balance.isError).toBe(false);
    expect(balance.json).toMatchObject({ token_id: token.id, name: 'mcp-parent', monthly_budget: 50, currency: 'USD' });

    const models = await call(client, 'list_models');
    expect(models.json.models).toContainEqual({ id: 'gpt-4o-mini', owned_by: 'openai', prompt_usd_per_million_tokens: 0.15, completion_usd_per_million_tokens: 0.6 });
    expect(models.json.models).toContainEqual(expect.objectContaining({ id: 'claude-4-5-sonnet', prompt_usd_per_million_tokens: 15, completion_usd_per_million_tokens: 15 }));

    const child = await call(client, 'create_child_agent', { name: 'helper', scopes: ['models:read'], monthly_budget: 2, expiration_days: 7 });
    expect(child.isError).toBe(false);
    const childKey = String(child.json.api_key);
    expect(s.tokens.require(String(child.json.id))).toMatchObject({ parentId: token.id, scopes: ['models:read'], budget: 2_000_000 });
    const modelsWith = (key: string) => fetch(`${s.baseURL}/models`, { headers: { authorization: `Bearer ${key}` } });
    expect((await modelsWith(childKey)).status).toBe(200);

    // Within its own limits only: the sidecar's 403 comes back as a tool error the model can read.
    const tooMuch = await call(client, 'create_child_agent', { name: 'greedy', scopes: ['models:read'], monthly_budget: 51 });
    expect(tooMuch.isError).toBe(true);
    expect(tooMuch.text).toMatch(/^HTTP 403 budget_exceeds_parent: /);

    const revoked = await call(client, 'revoke_child_agent', { id: String(child.json.id) });
    expect(revoked.json).toMatchObject({ revoked: true, id: child.json.id });
    expect((await modelsWith(childKey)).status).toBe(401);

    // Rotation with no grace: the old key dies at once, so a working check_balance proves the server switched keys.
    const rotated = await call(client, 'rotate_key', { grace_days: 0 });
    const newKey = String(rotated.json.new_api_key);
    expect(s.tokens.currentSecret(token.id)?.hash).toBe(hashToken(newKey));
    expect((await modelsWith(secret)).status).toBe(401);
    expect((await call(client, 'check_balance')).json).toMatchObject({ token_id: token.id });
  });

  it('explains a missing scope as a tool error', async () => {
    const { secret } = s.token({ preset: 'read-only' });
    const client = await connect(['mcp', '--base-url', s.daemon.url], { OPENAI_API_KEY: secret });
    const r = await call(client, 'create_child_agent', { name: 'x', scopes: ['models:read'] });
    expect(r.isError).toBe(true);
    expect(r.text).toMatch(/^HTTP 403 insufficient_scope: .*agents:create.* ask the human/);
  });

  it('request_access waits while the human approves, then uses the new key', async () => {
    // No key at all (a real provider key in OPENAI_API_KEY is ignored, never sent); the daemon is found through the data dir's daemon.json.
    const client = await connect(['--data-dir', s.dataDir, 'mcp'], { OPENAI_API_KEY: 'sk-proj-not-a-sidecar-token' });
    const before = await call(client, 'check_balance');
    expect(before.isError).toBe(true);
    expect(before.text).toMatch(/no sidecar key yet: call request_access/);

    // The human: approve with a smaller budget as soon as the request shows up.
    const humanApproves = new Promise<AccessRequestEvent>((resolve) => {
      const on = (e: AccessRequestEvent) => {
        if (e.kind !== 'created' || e.name !== 'mcp-agent') return;
        s.daemon.events.off('access_request', on);
        s.daemon.access.approve(e.request_id, { budget: 2_000_000 }, 'admin');
        resolve(e);
      };
      s.daemon.events.on('access_request', on);
    });
    const progress: string[] = [];
    const answer = await call(
      client,
      'request_access',
      { name: 'mcp-agent', scopes: ['models:read', 'billing:read'], monthly_budget: 3, reason: 'testing the MCP server', wait_seconds: 30 },
      { onprogress: (p) => void progress.push(p.message ?? '') },
    );
    const created = await humanApproves;
    expect(answer.isError, answer.text).toBe(false);
    expect(answer.json).toMatchObject({ status: 'approved', request_id: created.request_id, user_code: created.user_code, scopes: ['models:read', 'billing:read'], monthly_budget: 2, base_url: s.baseURL });
    // The code the human compares reached the client while the tool was waiting.
    expect(progress[0]).toContain(`approve SkillBoss access request ${created.user_code} for mcp-agent`);

    const after = await call(client, 'check_balance');
    expect(after.json).toMatchObject({ token_id: answer.json.token_id, name: 'mcp-agent', monthly_budget: 2 });
  });

  it('request_access returns pending (with the code and how to resume) when the human has not answered yet', async () => {
    const client = await connect(['mcp', '--base-url', s.baseURL]);
    const first = await call(client, 'request_access', { name: 'slow-human', scopes: ['models:read'], monthly_budget: 1, wait_seconds: 0 });
    expect(first.json).toMatchObject({ status: 'pending', user_code: expect.stringMatching(/^[A-Z]{4}-[A-Z]{4}$/) });
    expect(String(first.json.next)).toContain(`request_id "${String(first.json.request_id)}"`);
    s.daemon.access.deny(String(first.json.user_code), { reason: 'no' }, 'admin');
    const second = await call(client, 'request_access', { request_id: first.json.request_id, wait_seconds: 10 });
    expect(second.json).toMatchObject({ status: 'denied', reason: 'no' });
  });
});
