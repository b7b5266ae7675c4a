/**
 * An MCP client (the official @modelcontextprotocol/sdk) starting
 * `skillboss-sidecar mcp` the way MCP hosts do: a command plus the same
 * variables `skillboss-sidecar env` prints, nothing else. The server's own
 * behaviour is tested in test/integration/mcp.test.ts; this checks the
 * compatibility path end to end.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI } from '../helpers/cli.js';
import { startStack, type Stack } from '../helpers/stack.js';
import { agentEnv } from './recipes.js';

let s: Stack;
let client: Client | undefined;
beforeAll(async () => {
  s = await startStack();
});
afterAll(async () => {
  await client?.close().catch(() => undefined);
  await s?.close();
});

describe('MCP client', () => {
  it('lists the tools and calls them with the env variables only', { timeout: 60_000 }, async () => {
    const { token, secret } = s.token({ name: 'mcp-agent', budgetUsd: 3 });
    const env = agentEnv(s.baseURL, secret) as Record<string, string>;
    const transport = new StdioClientTransport({ command: process.execPath, args: [CLI, 'mcp'], env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env }, stderr: 'pipe' });
    client = new Client({ name: 'compat-suite', version: '1.0.0' });
    await client.connect(transport);
    const names = (await client.listTools()).tools.map((t) => t.name);
    expect(names).toEqual(expect.arrayContaining(['check_balance', 'list_models']));
    const text = async (name: string) => ((await client!.callTool({ name, arguments: {} })) as { content: Array<{ text: string }> }).content.map((c) => c.text).join('');
    expect(JSON.parse(await text('check_balance'))).toMatchObject({ token_id: token.id, monthly_budget: 3 });
    expect(await text('list_models')).toContain('gemini/gemini-2.5-flash');
  });
});
