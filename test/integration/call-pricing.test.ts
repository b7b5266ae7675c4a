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

const image = (stack: Stack, secret: string) =>
  fetch(`${stack.baseURL}/images/generations`, {
    method: 'POST',
    headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'gpt-image-1', prompt: 'a lighthouse' }),
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
    expect(s.sim.requests).toHaveLength(0);
  });

  it('follows a changed default call price', async () => {
    s = await startStack();
    s.daemon.deps.prices.setDefaultCall(0.002);
    const { token, secret } = s.token();
    expect((await image(s, secret)).status).toBe(200);
    expect(lastRow(s, token.id)).toMatchObject({ cost_micros: 2_000, cost_source: 'default' });
  });
});
