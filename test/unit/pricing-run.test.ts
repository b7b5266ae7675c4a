/**
 * A `/v1/run` model's price per request (issue 24), read from what the sync
 * stored of it, and the worst case a run reserves: its per-request price, a
 * per-token model like chat, an unpriced one at the default call price
 * (flagged), and nothing that could make a run free.
 */
import { describe, expect, it } from 'vitest';
import { METERS } from '../../proxy/pipeline/meters.js';
import { perRequestEstimate } from '../../proxy/pipeline/estimate.js';
import { PriceBook } from '../../proxy/pricing/prices.js';
import { runPriceOf } from '../../proxy/pricing/run-prices.js';
import { useTempDb } from '../helpers/db.js';

const t = useTempDb();

function book(): PriceBook {
  const prices = new PriceBook(t.db);
  prices.syncFromUpstream(
    [
      { id: 'replicate/flux', pricing: { unit: 'request', per_request_usd: 0.04 } },
      { id: 'fal/odd', pricing: { per_request_usd: '0.000003' } },
      { id: 'deepseek/chat', cost: 0.27, pricing: { unit: 'token', prompt: 0.27, completion: 1.1 } },
      { id: 'vendor/mystery', pricing: { unit: 'unknown' } },
      { id: 'vendor/negative', pricing: { unit: 'request', per_request_usd: -1 } },
    ],
    1,
  );
  return prices;
}

const body = (json: Record<string, unknown>) => ({ raw: Buffer.from(JSON.stringify(json)), json });

describe('runPriceOf', () => {
  it('reads the unit and per_request_usd the sync stored, in micro-dollars', () => {
    book();
    expect(runPriceOf(t.db, 'replicate/flux')).toEqual({ unit: 'request', perRequestMicros: 40_000 });
    // A string amount counts; a whole number of micro-dollars is not rounded up by float noise.
    expect(runPriceOf(t.db, 'fal/odd')).toEqual({ unit: 'request', perRequestMicros: 3 });
    expect(runPriceOf(t.db, 'deepseek/chat')).toEqual({ unit: 'token', perRequestMicros: null });
    expect(runPriceOf(t.db, 'vendor/mystery')).toEqual({ unit: 'unknown', perRequestMicros: null });
    expect(runPriceOf(t.db, 'vendor/negative')).toEqual({ unit: 'request', perRequestMicros: null });
    expect(runPriceOf(t.db, 'never/synced')).toEqual({ unit: 'unknown', perRequestMicros: null });
    expect(runPriceOf(t.db, undefined)).toEqual({ unit: 'unknown', perRequestMicros: null });
  });
});

describe('a run\'s reservation', () => {
  it('is its per-request price, a token model\'s worst case, or the default call price, flagged', () => {
    const prices = book();
    const est = (json: Record<string, unknown>) => perRequestEstimate('run', body(json), prices, 4096);
    expect(est({ model: 'replicate/flux', inputs: { prompt: 'x' } })).toMatchObject({ worstCaseMicros: 40_000, perRequest: 'price' });
    const b = { model: 'deepseek/chat', inputs: { prompt: 'hello', max_tokens: 100 } };
    expect(est(b)).toMatchObject({ worstCaseMicros: Math.ceil(Buffer.byteLength(JSON.stringify(b)) * 0.27 + 100 * 1.1), perRequest: 'price' });
    for (const model of ['vendor/mystery', 'vendor/negative', 'never/synced', undefined]) {
      expect(est({ model, inputs: {} })).toMatchObject({ worstCaseMicros: 50_000, perRequest: 'default' });
    }
    prices.setDefaultCall(0.002);
    expect(est({ type: 'image', inputs: {} })).toMatchObject({ worstCaseMicros: 2_000, perRequest: 'default' });
    expect(est({ model: 'replicate/flux', stream: true })).toMatchObject({ stream: true });
  });

  it('refuses a body whose fields would bend the estimate', () => {
    const prices = book();
    expect(() => perRequestEstimate('run', body({ model: 7 }), prices, 4096)).toThrow(/model/);
    expect(() => perRequestEstimate('run', body({ model: 'deepseek/chat', inputs: { max_tokens: -5 } }), prices, 4096)).toThrow(/max_tokens/);
    expect(() => perRequestEstimate('run', body({ model: 'x/y', stream: 'yes' }), prices, 4096)).toThrow(/stream/);
    expect(METERS.run.perRequest).toBeDefined();
  });
});
