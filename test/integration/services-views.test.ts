/**
 * Services in the views (issue 24 item 5): spend by vendor and by type in the
 * admin API (the dashboard's usage and token pages read it), a run's job in
 * the request feed (the request drawer), and `usage --json`'s kind, vendor
 * and job_id, all from the real daemon's ledger after real runs against
 * `simulator --dialect real`.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readAdminSecret } from '../../proxy/admin/index.js';
import { runCli } from '../helpers/cli.js';
import { startStack, type Stack } from '../helpers/stack.js';

const IMAGE = 'replicate/black-forest-labs/flux-schnell';
const VIDEO = 'minimax/video-01';

let s: Stack;
let tokenId: string;
let tokenSecret: string;
let jobId: string;
beforeAll(async () => {
  s = await startStack({ dialect: 'real', sim: { services: true } });
  const { token, secret } = s.token({ budgetUsd: 5 });
  tokenId = token.id;
  tokenSecret = secret;
  const call = (path: string, body?: unknown) =>
    fetch(`${s.baseURL}${path}`, {
      method: body === undefined ? 'GET' : 'POST',
      headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  expect((await call('/run', { model: IMAGE, inputs: { prompt: 'a kite' } })).status).toBe(200);
  const started = await call('/run', { model: VIDEO, inputs: { prompt: 'waves', polls: 1 } });
  expect(started.status).toBe(202);
  jobId = ((await started.json()) as { job_id: string }).job_id;
  expect(((await (await call(`/job/${jobId}`)).json()) as { status: string }).status).toBe('processing');
  expect(((await (await call(`/job/${jobId}`)).json()) as { status: string }).status).toBe('completed');
  expect((await call('/chat/completions', { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] })).status).toBe(200);
});
afterAll(async () => {
  await s?.close();
});

async function admin<T>(path: string): Promise<T> {
  const res = await fetch(`${s.daemon.url}/admin/api${path}`, { headers: { authorization: `Bearer ${readAdminSecret(s.dataDir)}` } });
  expect(res.status, await res.clone().text()).toBe(200);
  return (await res.json()) as T;
}

type Grouped = { data: Array<{ vendor?: string | null; type?: string; requests: number; cost_usd: number }> };

describe('spend by vendor and by type', () => {
  it('groups a token\'s spend by the model\'s vendor (its part before the first /)', async () => {
    const { data } = await admin<Grouped>(`/usage?by=vendor&token=${tokenId}`);
    expect(data.find((r) => r.vendor === 'minimax')).toMatchObject({ requests: 3, cost_usd: 0.45 });
    expect(data.find((r) => r.vendor === 'replicate')).toMatchObject({ requests: 1, cost_usd: 0.037 });
    // A model without a vendor prefix is under the vendor its synced entry names.
    expect(data.find((r) => r.vendor === 'openai')?.requests).toBe(1);
    // Most spent first.
    expect(data[0]!.vendor).toBe('minimax');
  });

  it('groups it by the type the synced model list gives each model', async () => {
    const { data } = await admin<Grouped>(`/usage?by=type&token=${tokenId}`);
    expect(data.find((r) => r.type === 'video')).toMatchObject({ requests: 3, cost_usd: 0.45 });
    expect(data.find((r) => r.type === 'image')).toMatchObject({ requests: 1, cost_usd: 0.037 });
    expect(data.find((r) => r.type === 'chat')?.requests).toBe(1);
  });

  it('refuses an unknown grouping with the list of the known ones', async () => {
    const res = await fetch(`${s.daemon.url}/admin/api/usage?by=colour`, { headers: { authorization: `Bearer ${readAdminSecret(s.dataDir)}` } });
    expect(res.status).toBe(400);
    expect(await res.text()).toContain('vendor, type');
  });
});

describe('a run\'s job in the request feed', () => {
  it('shows the job on the row that started it, on a poll, and on the poll that charged it', async () => {
    type Row = { route: string; model: string | null; cost_usd: number; cost_source: string; job: { id: string; status: string; role: string; cost_usd: number | null } | null };
    const { data } = await admin<{ data: Row[] }>(`/requests?token=${tokenId}`);
    const withJob = data.filter((r) => r.job);
    expect(withJob.map((r) => [r.route, r.job!.role])).toEqual([
      ['/v1/job/*', 'settled'],
      ['/v1/job/*', 'polled'],
      ['/v1/run', 'started'],
    ]);
    for (const r of withJob) expect(r.job).toMatchObject({ id: jobId, status: 'completed', cost_usd: 0.45 });
    expect(withJob[0]).toMatchObject({ model: VIDEO, cost_usd: 0.45, cost_source: 'upstream' });
    // The image run and the chat have no job.
    expect(data.find((r) => r.model === IMAGE)?.job).toBeNull();
  });
});

describe('usage --json', () => {
  it('carries each row\'s kind, vendor and job id, and the text output shows them', async () => {
    const r = await runCli(['usage', '--token', tokenId, '--json', '--data-dir', s.dataDir]);
    expect(r.code, r.stderr).toBe(0);
    const rows = (JSON.parse(r.stdout) as { requests: Array<{ route: string; kind: string; vendor: string | null; job_id: string | null; model: string | null }> }).requests;
    expect(rows.find((x) => x.model === IMAGE)).toMatchObject({ kind: 'run', vendor: 'replicate', job_id: null });
    // The start, the poll that found it still processing and the poll that saw it end: each names the job.
    expect(rows.filter((x) => x.job_id === jobId).map((x) => x.kind).sort()).toEqual(['job', 'job', 'run']);
    expect(rows.find((x) => x.route === '/v1/run' && x.model === VIDEO)).toMatchObject({ vendor: 'minimax', job_id: jobId });
    expect(rows.find((x) => x.route === '/v1/chat/completions')).toMatchObject({ kind: 'chat', vendor: 'openai', job_id: null });

    const text = await runCli(['usage', '--token', tokenId, '--data-dir', s.dataDir]);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/^TIME\s+TOKEN\s+KIND\s+MODEL/m);
    expect(text.stdout).toContain(jobId);
    expect(text.stdout).toMatch(/by vendor: minimax \$0\.450000 \(3\), replicate \$0\.037000 \(1\)/);
    expect(text.stdout).toMatch(/by type: video \$0\.450000 \(3\), image \$0\.037000 \(1\)/);
  });
});

describe('skill.md\'s /v1/run example', () => {
  it('runs as written with curl, and its openai SDK raw request works the same', async () => {
    const md = await (await fetch(`${s.daemon.url}/skill.md`)).text();
    const section = md.split(/^## /m).find((x) => x.startsWith('Services'))!;
    expect(section).toContain('/v1/run');
    const sh = /```sh\n([\s\S]*?)```/.exec(section)![1]!.replaceAll('<api_key>', tokenSecret);
    const { stdout } = await promisify(execFile)('sh', ['-c', sh]);
    expect(JSON.parse(stdout)).toMatchObject({ cost_usd: 0.037 });
    // Its JS line, with a client made as step 4 makes it.
    const js = /```js\n([\s\S]*?)```/.exec(section)![1]!;
    expect(js).toContain("client.post('/run', { body: { model: 'replicate/black-forest-labs/flux-schnell'");
    const client = new OpenAI({ apiKey: tokenSecret, baseURL: s.baseURL, maxRetries: 0 });
    const image = await client.post<Record<string, unknown>>('/run', { body: { model: 'replicate/black-forest-labs/flux-schnell', inputs: { prompt: 'a lighthouse at dusk' } } });
    expect(image).toMatchObject({ cost_usd: 0.037 });
  });
});
