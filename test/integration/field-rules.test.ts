/**
 * One money rule on every path in (issue 22, item 4): the same bad amounts
 * sent to the agent API (create-child, request-access), MCP (two tools, over
 * stdio from the compiled CLI), the admin API (token create, top-up) and the
 * CLI (`token create --budget`) are refused by each, with the same reason,
 * and nothing is created. The reason expected is wire/fields.ts's own answer
 * for the value, so a path with a rule of its own fails here.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readAdminSecret } from '../../proxy/admin/index.js';
import { parseAmount } from '../../wire/fields.js';
import { CLI, runCli } from '../helpers/cli.js';
import { startStack, type Stack } from '../helpers/stack.js';

let s: Stack;
let admin: string;
let mcp: Client;
let parent: { id: string; secret: string };
let prepaid: string;

beforeAll(async () => {
  s = await startStack();
  admin = readAdminSecret(s.dataDir);
  const p = s.token({ preset: 'admin', budgetUsd: 50, name: 'field-rules-parent' });
  parent = { id: p.token.id, secret: p.secret };
  prepaid = s.tokens.create({ name: 'field-rules-prepaid', scopes: p.token.scopes, budget: 1_000_000, budgetPeriod: 'total' }, 'test').token.id;
  mcp = new Client({ name: 'field-rules', version: '1.0.0' });
  await mcp.connect(
    new StdioClientTransport({ command: process.execPath, args: [CLI, '--data-dir', s.dataDir, 'mcp'], env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', SKILLBOSS_API_KEY: p.secret, OPENAI_BASE_URL: s.baseURL }, stderr: 'pipe' }),
  );
});
afterAll(async () => {
  await mcp?.close().catch(() => undefined);
  await s?.close();
});

/** The bad amounts: JSON numbers where JSON has them, text where only text can say it (1e3 as a JSON number is simply 1000). */
const BAD: Array<string | number> = [0, -1, '1e3', '0x10', '', 'abc', 1.234567891, 'Infinity', 1e12, '-1', '1,250', '5 usd'];

async function post(url: string, body: unknown, auth?: string): Promise<{ status: number; message: string }> {
  const r = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...(auth ? { authorization: `Bearer ${auth}` } : {}) }, body: JSON.stringify(body) });
  const j = (await r.json()) as { error?: { message?: string } };
  return { status: r.status, message: j.error?.message ?? '' };
}

async function tool(name: string, args: Record<string, unknown>): Promise<{ isError: boolean; text: string }> {
  const r = (await mcp.callTool({ name, arguments: args })) as { isError?: boolean; content: Array<{ text: string }> };
  return { isError: r.isError === true, text: r.content.map((c) => c.text).join('') };
}

describe('the money rule', () => {
  it.each(BAD.map((v) => [JSON.stringify(v), v] as const))('refuses %s on every path, saying the same, creating nothing', async (_shown, value) => {
    const rule = parseAmount(value);
    expect(rule.ok).toBe(false);
    const why = rule.ok ? '' : rule.error;
    const before = s.tokens.list().length;
    const topped = s.tokens.get(prepaid)!.budget;
    const answers: Record<string, { refused: boolean; says: string }> = {};

    const child = await post(`${s.baseURL}/agents/create-child`, { child_name: 'c', scopes: ['models:read'], child_budget: value }, parent.secret);
    answers['agent create-child'] = { refused: child.status === 400, says: child.message };
    const access = await post(`${s.baseURL}/agents/request-access`, { name: 'a', scopes: ['models:read'], monthly_budget: value });
    answers['agent request-access'] = { refused: access.status === 400, says: access.message };

    const mcpChild = await tool('create_child_agent', { name: 'c', scopes: ['models:read'], monthly_budget: value });
    answers['mcp create_child_agent'] = { refused: mcpChild.isError, says: mcpChild.text };
    const mcpAccess = await tool('request_access', { name: 'a', scopes: ['models:read'], monthly_budget: value, wait_seconds: 0 });
    answers['mcp request_access'] = { refused: mcpAccess.isError, says: mcpAccess.text };

    const created = await post(`${s.daemon.url}/admin/api/tokens`, { name: 'x', preset: 'read-only', monthly_budget_usd: value }, admin);
    answers['admin token create'] = { refused: created.status === 400, says: created.message };
    const topup = await post(`${s.daemon.url}/admin/api/tokens/${prepaid}/topup`, { amount_usd: value }, admin);
    answers['admin top-up'] = { refused: topup.status === 400, says: topup.message };

    const cli = await runCli(['--data-dir', s.dataDir, 'token', 'create', '--name', 'x', '--preset', 'read-only', '--budget', String(value)]);
    answers['cli token create'] = { refused: cli.code === 1, says: cli.stderr };

    for (const [path, a] of Object.entries(answers)) {
      expect(a.refused, `${path}: ${a.says}`).toBe(true);
      expect(a.says, path).toContain(why);
    }
    expect(s.tokens.list().length).toBe(before);
    expect(s.tokens.get(prepaid)!.budget).toBe(topped);
  }, 60_000);

  it('takes the same good amounts on every path', async () => {
    for (const value of [5, '2.50', '$5', 0.000001]) {
      const child = await post(`${s.baseURL}/agents/create-child`, { child_name: 'ok', scopes: ['models:read'], child_budget: value }, parent.secret);
      expect(child.status, child.message).toBe(200);
      const created = await post(`${s.daemon.url}/admin/api/tokens`, { name: 'ok', preset: 'read-only', monthly_budget_usd: value }, admin);
      expect(created.status, created.message).toBe(201);
      const cli = await runCli(['--data-dir', s.dataDir, 'token', 'create', '--name', 'ok', '--preset', 'read-only', '--budget', String(value)]);
      expect(cli.code, cli.stderr).toBe(0);
    }
  }, 60_000);
});
