/**
 * The MCP server's services tools (issue 24 item 4): `list_models` shows
 * SkillBoss's run models with their type, and `run_service` calls `/v1/run`
 * (and polls its job) through the sidecar with the agent's own token: a JSON
 * answer as it is, binary audio summarised with base64 under the cap, a job
 * polled to its end and charged once. The compiled CLI over stdio, the real
 * daemon, `simulator --dialect real`.
 */
import { createHash } from 'node:crypto';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AUDIO_CHUNKS } from '../../proxy/simulator/run.js';
import { CLI } from '../helpers/cli.js';
import { ledgerOf } from '../helpers/ledger.js';
import { startStack, type Stack } from '../helpers/stack.js';

let s: Stack;
let client: Client;
let tokenId: string;
beforeAll(async () => {
  s = await startStack({ dialect: 'real', sim: { services: true } });
  const { token, secret } = s.token({ budgetUsd: 5, name: 'mcp-studio' });
  tokenId = token.id;
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [CLI, '--data-dir', s.dataDir, 'mcp'],
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', SKILLBOSS_API_KEY: secret, OPENAI_BASE_URL: s.baseURL },
    stderr: 'pipe',
  });
  client = new Client({ name: 'sidecar-test', version: '1.0.0' });
  await client.connect(transport);
}, 60_000);
afterAll(async () => {
  await client?.close().catch(() => undefined);
  await s?.close();
});

async function call(name: string, args: Record<string, unknown> = {}): Promise<{ isError: boolean; text: string; json: Record<string, unknown> }> {
  const r = (await client.callTool({ name, arguments: args })) as { isError?: boolean; content: Array<{ text: string }> };
  const text = r.content.map((c) => c.text).join('');
  let json: Record<string, unknown> = {};
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    /* an error message */
  }
  return { isError: r.isError === true, text, json };
}

const charged = () => ledgerOf(s.daemon.db, tokenId).reduce((a, r) => a + r.cost_micros, 0);

describe('MCP services tools', () => {
  it('list_models shows the run models with their type, to be called with run_service', async () => {
    const { json } = await call('list_models');
    const models = json.models as Array<Record<string, unknown>>;
    expect(models).toContainEqual(expect.objectContaining({ id: 'replicate/black-forest-labs/flux-schnell', type: 'image', owned_by: 'replicate', call_with: 'run_service' }));
    expect(models).toContainEqual(expect.objectContaining({ id: 'minimax/video-01', type: 'video', call_with: 'run_service' }));
    expect(models.find((m) => m.id === 'gpt-4o-mini')).toMatchObject({ type: 'chat' });
    expect(models.find((m) => m.id === 'gpt-4o-mini')).not.toHaveProperty('call_with');
  });

  it('run_service answers an image run with the vendor\'s JSON, charged what SkillBoss reported', async () => {
    const r = await call('run_service', { model: 'replicate/black-forest-labs/flux-schnell', inputs: { prompt: 'a kite' } });
    expect(r.isError, r.text).toBe(false);
    expect(r.json).toMatchObject({ http_status: 200, content_type: expect.stringMatching(/^application\/json/), answer: { cost_usd: 0.037 } });
    expect((r.json.answer as { image_url: string }).image_url).toMatch(/\.png$/);
    expect(ledgerOf(s.daemon.db, tokenId).at(-1)).toMatchObject({ route: '/v1/run', cost_micros: 37_000, cost_source: 'upstream' });
  });

  it('run_service summarises binary audio: type, size, hash, and base64 under the cap', async () => {
    const before = charged();
    const r = await call('run_service', { model: 'elevenlabs/eleven-multilingual-v2', inputs: { text: 'Hello' } });
    expect(r.isError, r.text).toBe(false);
    const audio = Buffer.concat(AUDIO_CHUNKS);
    expect(r.json).toMatchObject({ http_status: 200, content_type: 'audio/mpeg', size_bytes: audio.length, sha256: createHash('sha256').update(audio).digest('hex') });
    expect(Buffer.from(String(r.json.base64), 'base64').equals(audio)).toBe(true);
    expect(charged() - before).toBe(20_000);
  });

  it('run_service starts a job and polls it with job_id until it ends, charged once', async () => {
    const before = charged();
    const started = await call('run_service', { model: 'minimax/video-01', inputs: { prompt: 'waves', polls: 1 }, idempotency_key: 'mcp-video-1' });
    expect(started.json).toMatchObject({ http_status: 202, answer: { status: 'accepted' } });
    const id = (started.json.answer as { job_id: string }).job_id;
    expect(started.json.next).toContain(id);
    expect(((await call('run_service', { job_id: id })).json.answer as { status: string }).status).toBe('processing');
    expect((await call('run_service', { job_id: id })).json.answer).toMatchObject({ status: 'completed', cost_usd: 0.45 });
    expect(((await call('run_service', { job_id: id })).json.answer as { status: string }).status).toBe('completed');
    expect(charged() - before).toBe(450_000);
    // Its Idempotency-Key was sent: the same run again is the same job, not a second one.
    const again = await call('run_service', { model: 'minimax/video-01', inputs: { prompt: 'waves', polls: 1 }, idempotency_key: 'mcp-video-1' });
    expect((again.json.answer as { job_id: string }).job_id).toBe(id);
    expect(charged() - before).toBe(450_000);
  });

  it('run_service gives a refusal as a tool error the model can read', async () => {
    const r = await call('run_service', { job_id: 'job_nobody_started' });
    expect(r.isError).toBe(true);
    expect(r.text).toContain('HTTP 404 job_not_found');
    expect((await call('run_service', {})).text).toContain('Give model');
  });
});
