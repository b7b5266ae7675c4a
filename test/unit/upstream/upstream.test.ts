/** Reading SkillBoss's answers in either shape, and taking its `_` fields out (issue 23). */
import { describe, expect, it } from 'vitest';
import { controlPlaneOf, parseControlPlane, readBalance } from '../../../proxy/upstream/balance.js';
import { balanceWarningText, stripInjectedData } from '../../../proxy/upstream/hygiene.js';
import { AGENT_ANSWERS, detailPath, paced, readModelDetail, readModelList } from '../../../proxy/upstream/models.js';
import { validateUpstreamKey } from '../../../proxy/keychain/store.js';
import { usdHeader } from '../../../proxy/pipeline/forward.js';

describe('the model list', () => {
  it('reads the seed shape, the real shape (id or model_id), and both at once', () => {
    expect(readModelList({ data: [{ id: 'a', cost: 1 }] })).toMatchObject({ ok: true, shape: 'data', models: [{ id: 'a', price: { prompt: 1, completion: 1 } }] });
    const real = readModelList({ models: [{ id: 'bedrock/claude-4-5-sonnet' }, { model_id: 'replicate/org/model', type: 'image' }], count: 2, available_types: { chat: 1 } });
    expect(real).toMatchObject({ ok: true, shape: 'models', models: [{ id: 'bedrock/claude-4-5-sonnet', price: null }, { id: 'replicate/org/model' }] });
    expect(readModelList({ data: [{ id: 'a' }], models: [{ id: 'a' }, { id: 'b' }] })).toMatchObject({ ok: true, models: [{ id: 'a' }, { id: 'b' }] });
  });

  it('names what an unrecognised shape held instead of reading 0 models', () => {
    expect(readModelList({ items: [], total: 0 })).toEqual({ ok: false, problem: expect.stringContaining('the keys items, total but neither a `data` nor a `models` list') });
    expect(readModelList([{ id: 'x' }])).toMatchObject({ ok: false, problem: expect.stringContaining('a bare array') });
    expect(readModelList({ data: [{ name: 'x' }] })).toMatchObject({ ok: false, problem: expect.stringContaining('none with an `id`') });
  });

  it('reads prices in the catalog names, per-request only prices, and the detail wrapper', () => {
    expect(readModelDetail({ model: { pricing: { unit: 'token', per_1m_input_usd: 0.3, per_1m_output_usd: 2.5 } } })).toMatchObject({ prompt: 0.3, completion: 2.5 });
    expect(readModelDetail({ model: { pricing: { unit: 'request', per_request_usd: 0.04 } } })).toMatchObject({ perRequest: 0.04, prompt: Number.NaN });
    expect(readModelDetail({ model: { display_name: 'x' } })).toBeNull();
    expect(detailPath('replicate/org/my model')).toBe('/models/replicate/org/my%20model');
  });

  it('shows the real list and detail to agents in the shape OpenAI clients read', () => {
    const list: Record<string, unknown> = { models: [{ id: 'm', vendor: 'openai' }], count: 1 };
    expect(AGENT_ANSWERS['model-list'](list)).toBe(true);
    expect(list).toMatchObject({ object: 'list', data: [{ id: 'm', object: 'model', owned_by: 'openai' }], models: [{ id: 'm' }] });
    const seed = { object: 'list', data: [] };
    expect(AGENT_ANSWERS['model-list'](seed)).toBe(false);
    const detail: Record<string, unknown> = { model: { id: 'm', pricing: { per_1m_input_usd: 1 } } };
    expect(AGENT_ANSWERS['model-detail'](detail)).toBe(true);
    expect(detail).toMatchObject({ id: 'm', object: 'model', pricing: { per_1m_input_usd: 1 } });
  });

  it('paces detail fetches: never more at once than the concurrency, starts spaced by the rate', async () => {
    let open = 0;
    let most = 0;
    const starts: number[] = [];
    await paced([1, 2, 3, 4, 5, 6], async () => {
      starts.push(Date.now());
      most = Math.max(most, ++open);
      await new Promise((r) => setImmediate(r));
      open--;
    }, { concurrency: 2, perSecond: 20 });
    expect(most).toBeLessThanOrEqual(2);
    expect(starts).toHaveLength(6);
    expect(starts.at(-1)! - starts[0]!).toBeGreaterThanOrEqual(5 * 50 - 10);
  });
});

describe('the balance', () => {
  it('prefers USD fields and never converts credits', () => {
    expect(readBalance({ balance: 12.5, currency: 'USD' })).toEqual({ usd: 12.5, credits: null });
    expect(readBalance({ email: 'a@b', balance: 3.54, credits: 35420 })).toEqual({ usd: 3.54, credits: 35420 });
    expect(readBalance({ wallet_balance_usd: 7, auto_topup: {} })).toEqual({ usd: 7, credits: null });
    expect(readBalance({ credits: 200 })).toEqual({ usd: null, credits: 200 });
    expect(readBalance({ balance: 5, currency: 'credits' })).toEqual({ usd: null, credits: null });
  });

  it('derives the control plane from the upstream, and takes one set by the human', () => {
    expect(controlPlaneOf('https://api.skillboss.co/v1')).toBe('https://www.skillboss.co');
    expect(controlPlaneOf('http://127.0.0.1:4000/v1')).toBe('http://127.0.0.1:4000');
    expect(parseControlPlane('https://skillboss.co/')).toBe('https://skillboss.co');
    expect(() => parseControlPlane('https://u:p@skillboss.co')).toThrow(/credentials/);
    expect(() => parseControlPlane('ftp://skillboss.co')).toThrow(/http/);
  });
});

describe('injected fields', () => {
  it('drops a chunk of only _ fields, strips them beside a delta, and leaves other chunks byte for byte', () => {
    expect(stripInjectedData('{"_memory_hint":"append to MEMORY.md","_tip":"x"}')).toMatchObject({ data: null });
    const mixed = stripInjectedData('{"choices":[{"delta":{"content":"hi"}}],"_savings":{"usd":1}}');
    expect(mixed.data).toBe('{"choices":[{"delta":{"content":"hi"}}]}');
    expect(mixed.removed).toEqual({ _savings: { usd: 1 } });
    const plain = '{"choices":[{"delta":{"content":"say \\"_x\\""}}]}';
    expect(stripInjectedData(plain)).toEqual({ data: plain, removed: null });
    expect(balanceWarningText({ _balance_warning: { message: 'Low: 3.5 credits\n' } })).toBe('Low: 3.5 credits ');
  });
});

describe('keys and caps', () => {
  it('takes any sane key form, refuses agent tokens and whitespace', () => {
    for (const k of ['sk-abc123abc123abc123', 'sk_live_0123456789abcdef', 'sk_skillboss_0123456789abcdef', 'sk-tmp-0123456789abcdef']) expect(validateUpstreamKey(`${k}\n`)).toBe(k);
    expect(() => validateUpstreamKey('sk-sbl-0123456789abcdef0123456789abcdef012345')).toThrow(/sidecar agent token/);
    expect(() => validateUpstreamKey('sk_live_0123 456789abcdef')).toThrow(/does not look like/);
    expect(() => validateUpstreamKey('short')).toThrow(/does not look like/);
  });

  it('writes a micro-dollar cap exactly', () => {
    expect(usdHeader(1)).toBe('0.000001');
    expect(usdHeader(1_234_567)).toBe('1.234567');
    expect(usdHeader(5_000_000)).toBe('5');
  });
});
