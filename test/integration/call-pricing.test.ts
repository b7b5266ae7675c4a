/**
 * Images, audio and services are priced per call: the upstream's reported
 * cost when it gives one, else the default call price — flagged, reserved
 * beforehand, and never free.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../helpers/stack.js';

let s: Stack | undefined;
afterEach(async () => {
  await s?.close();
  s = undefined;
});

function lastRow(stack: Stack, tokenId: string) {
  return stack.daemon.db.prepare('SELECT route, status, cost_micros, cost_source FROM usage WHERE token_id = ? ORDER BY id DESC LIMIT 1').get(tokenId) as {
    route: string;
    status: number;
    cost_micros: number;
    cost_source: string;
  };
}

const image = (stack: Stack, secret: string, extra: Record<string, unknown> = {}) =>
  fetch(`${stack.baseURL}/images/generations`, {
    method: 'POST',
    headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'gpt-image-1', prompt: 'a lighthouse', ...extra }),
  });

describe('per-call pricing', () => {
  it('charges the default call price, flagged, when the upstream reports no cost', async () => {
    s = await startStack();
    const { token, secret } = s.token();
    expect((await image(s, secret)).status).toBe(200);
    expect(lastRow(s, token.id)).toMatchObject({ route: '/v1/images/*', status: 200, cost_micros: 50_000, cost_source: 'default' });
    const svc = await fetch(`${s.baseURL}/services/email`, { method: 'POST', headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' }, body: '{"to":"a@b.c"}' });
    expect(svc.status).toBe(200);
    expect(lastRow(s, token.id)).toMatchObject({ route: '/v1/services/*', cost_micros: 50_000, cost_source: 'default' });
  });

  it('takes the upstream-reported cost when there is one', async () => {
    s = await startStack({ sim: { reportCost: true } });
    const { token, secret } = s.token();
    expect((await image(s, secret)).status).toBe(200);
    const row = lastRow(s, token.id);
    expect(row.cost_source).toBe('upstream');
    expect(row.cost_micros).toBe(40_000);
  });

  it('refuses a call the budget cannot cover before it goes upstream', async () => {
    s = await startStack();
    const { secret } = s.token({ budgetMicros: 49_999 });
    s.sim.clearRequests();
    const res = await image(s, secret);
    expect(res.status).toBe(402);
    // One image at the base size is the cheapest call: only the human can help.
    expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(/Nothing in the request can make it cheaper: ask the human to raise the budget\.$/);
    const svc = await fetch(`${s.baseURL}/services/email`, { method: 'POST', headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' }, body: '{"to":"a@b.c"}' });
    expect(svc.status).toBe(402);
    const msg = ((await svc.json()) as { error: { message: string } }).error.message;
    expect(msg).toContain('Nothing in the request can make it cheaper');
    expect(msg).not.toContain('max_tokens');
    expect(s.sim.requests).toHaveLength(0);
  });

  it('follows a changed default call price', async () => {
    s = await startStack();
    s.daemon.deps.prices.setDefaultCall(0.002);
    const { token, secret } = s.token();
    expect((await image(s, secret)).status).toBe(200);
    expect(lastRow(s, token.id)).toMatchObject({ cost_micros: 2_000, cost_source: 'default' });
  });

  // Issue 17 item 4: n = 10 on a $0.05 token answered 200 with ten images; the upstream charged $0.40 and the ledger $0.05.
  it('refuses n = 10 images on a $0.05 budget before anything goes upstream', async () => {
    s = await startStack({ sim: { reportCost: true } });
    const { token, secret } = s.token({ budgetUsd: 0.05 });
    s.sim.clearRequests();
    const balance = s.sim.balanceMicros();
    const res = await image(s, secret, { n: 10 });
    expect(res.status).toBe(402);
    const { error } = (await res.json()) as { error: { code: string; message: string } };
    expect(error).toMatchObject({ code: 'budget_exhausted', message: expect.stringContaining('may cost up to $0.5.') });
    // What the agent can do here: fewer images (there is no max_tokens on an image route), or ask the human.
    expect(error.message).toMatch(/It is billed as 10 image calls: ask for fewer images \(a smaller n\), a smaller size or a lower quality, or ask the human to raise the budget\.$/);
    expect(error.message).not.toContain('max_tokens');
    expect(s.sim.requests).toHaveLength(0);
    expect(s.sim.balanceMicros()).toBe(balance);
    expect(lastRow(s, token.id)).toMatchObject({ status: 402, cost_micros: 0 });
    // One image still fits.
    expect((await image(s, secret)).status).toBe(200);
  });

  it('charges what the upstream billed for n images, large and fine ones, and never less than it', async () => {
    s = await startStack({ sim: { reportCost: true } });
    const { token, secret } = s.token({ budgetUsd: 5 });
    for (const extra of [{ n: 10 }, { n: 3, size: '1792x1024', quality: 'hd' }]) {
      const before = s.sim.balanceMicros();
      expect((await image(s, secret, extra)).status).toBe(200);
      const charged = before - s.sim.balanceMicros();
      expect(lastRow(s, token.id)).toMatchObject({ status: 200, cost_micros: charged, cost_source: 'upstream' });
    }
    expect(s.daemon.db.prepare('SELECT SUM(cost_micros) FROM usage WHERE token_id = ?').pluck().get(token.id)).toBe(400_000 + 480_000);
  });

  it('charges the default call price per image when the upstream reports no cost', async () => {
    s = await startStack();
    const { token, secret } = s.token({ budgetUsd: 1 });
    expect((await image(s, secret, { n: 10 })).status).toBe(200);
    expect(lastRow(s, token.id)).toMatchObject({ status: 200, cost_micros: 500_000, cost_source: 'default' });
    // Only $0.50 is left: the next ten do not fit, eleven are refused as malformed, and "10" as a string is not one image.
    expect((await image(s, secret, { n: 10, size: '1792x1024' })).status).toBe(402);
    expect((await image(s, secret, { n: 11 })).status).toBe(400);
    expect((await image(s, secret, { n: '10' })).status).toBe(400);
  });

  it('counts n in a multipart image edit too, before it goes upstream', async () => {
    s = await startStack();
    const { secret } = s.token({ budgetUsd: 0.1 });
    const edit = (n: string) => {
      const form = new FormData();
      form.append('image', new Blob([Buffer.from('89504e470d0a1a0a', 'hex')], { type: 'image/png' }), 'a.png');
      form.append('prompt', 'add a hat');
      form.append('n', n);
      return fetch(`${s!.baseURL}/images/edits`, { method: 'POST', headers: { authorization: `Bearer ${secret}` }, body: form });
    };
    s.sim.clearRequests();
    const res = await edit('4');
    expect(res.status).toBe(402);
    expect(((await res.json()) as { error: { message: string } }).error.message).toContain('may cost up to $0.2.');
    expect((await edit('abc')).status).toBe(400);
    expect(s.sim.requests).toHaveLength(0);
  });
});
