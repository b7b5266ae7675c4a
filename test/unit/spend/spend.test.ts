import { describe, expect, it } from 'vitest';
import { forecast } from '../../../proxy/spend/forecast.js';
import { resetSentence, windowOf } from '../../../proxy/core/period.js';
import { parsePeriod } from '../../../wire/fields.js';
import { classCostMicros, costMicros, parseUpstreamPrice, withClasses, type Price } from '../../../proxy/pricing/prices.js';

const at = (iso: string) => Date.parse(iso);
const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

describe('period windows (UTC)', () => {
  it('day: midnight to midnight UTC, whatever the time of day', () => {
    const w = windowOf('day', at('2026-12-04T23:59:59.999Z'));
    expect(w.key).toBe('2026-12-04');
    expect(iso(w.start)).toBe('2026-12-04T00:00:00.000Z');
    expect(iso(w.end)).toBe('2026-12-05T00:00:00.000Z');
    expect(windowOf('day', at('2026-12-05T00:00:00.000Z')).key).toBe('2026-12-05');
  });

  it('week: ISO weeks from Monday 00:00 UTC, across a year end', () => {
    const w = windowOf('week', at('2026-12-06T12:00:00Z')); // a Sunday
    expect(iso(w.start)).toBe('2026-11-30T00:00:00.000Z');
    expect(iso(w.end)).toBe('2026-12-07T00:00:00.000Z');
    expect(w.key).toBe('2026-W49');
    expect(windowOf('week', at('2026-12-07T00:00:00Z')).key).toBe('2026-W50');
    // 2027-01-01 is a Friday: it belongs to 2026's last ISO week (W53).
    expect(windowOf('week', at('2027-01-01T10:00:00Z')).key).toBe('2026-W53');
    expect(windowOf('week', at('2027-01-04T00:00:00Z')).key).toBe('2027-W01');
    expect(windowOf('week', at('2025-12-29T00:00:00Z')).key).toBe('2026-W01');
  });

  it('month: the 1st 00:00 UTC, with the key monthly spend always used', () => {
    const w = windowOf('month', at('2026-12-31T23:00:00Z'));
    expect(w.key).toBe('2026-12');
    expect(iso(w.end)).toBe('2027-01-01T00:00:00.000Z');
    expect(windowOf('month', at('2027-01-01T00:00:00Z')).key).toBe('2027-01');
  });

  it('total: one window that never resets, and says so', () => {
    expect(windowOf('total', at('2026-01-01T00:00:00Z'))).toEqual({ key: 'total', start: null, end: null });
    expect(windowOf('total', at('2030-06-01T00:00:00Z')).key).toBe('total');
    expect(resetSentence('total', 0, 'tok_x')).toContain('does not reset');
    expect(resetSentence('day', at('2026-12-04T10:00:00Z'), 'tok_x')).toContain('2026-12-05T00:00:00.000Z');
    expect(parsePeriod('yearly')).toEqual({ ok: false, error: 'expected one of day, week, month, total' });
  });
});

describe('pricing each token class', () => {
  const price: Price = { prompt: 2.5, completion: 10, source: 'upstream', ...withClasses({ prompt: 2.5, completion: 10 }, { cached: 1.25, reasoning: 12 }, 'upstream') };

  it('charges cached prompt tokens at the cached rate and reasoning at the reasoning rate', () => {
    // 1000 plain + 1024 cached prompt; 100 visible + 50 reasoning completion.
    const expected = Math.ceil((1000 * 2.5 + 1024 * 1.25 + 100 * 10 + 50 * 12) * 1e6 / 1e6);
    expect(classCostMicros(price, 2024, 150, { cached: 1024, reasoning: 50 })).toBe(expected);
    expect(classCostMicros(price, 2024, 150, { cached: 1024, reasoning: 50 })).toBeLessThan(classCostMicros(price, 2024, 150, {}));
  });

  it('falls back, visibly, when a class rate is not listed: cached and cache write at the prompt rate, reasoning at the completion rate', () => {
    const c = withClasses({ prompt: 3, completion: 7 }, { cached: null }, 'upstream');
    expect(c).toMatchObject({ cached: 3, cacheWrite: 3, reasoning: 7, classSource: { cached: 'fallback', cacheWrite: 'fallback', reasoning: 'fallback' } });
    const p: Price = { prompt: 3, completion: 7, source: 'upstream', ...c };
    expect(classCostMicros(p, 2000, 100, { cached: 1500, reasoning: 60 })).toBe(costMicros(p, 2000, 100));
  });

  it('the worst case (no split) takes the dearest rate per side, so a reservation covers any split', () => {
    const dear: Price = { prompt: 1, completion: 4, source: 'upstream', ...withClasses({ prompt: 1, completion: 4 }, { cacheWrite: 1.25, reasoning: 5 }, 'upstream') };
    const worst = classCostMicros(dear, 1000, 100);
    expect(worst).toBe(Math.ceil(1000 * 1.25 + 100 * 5));
    for (const split of [{}, { cacheWrite: 1000 }, { cached: 1000 }, { reasoning: 100 }, { cacheWrite: 400, reasoning: 30 }]) {
      expect(classCostMicros(dear, 1000, 100, split)).toBeLessThanOrEqual(worst);
    }
  });

  it('clamps class counts to the totals they are part of and rounds up once, exactly', () => {
    expect(classCostMicros(price, 10, 10, { cached: 50, reasoning: 50 })).toBe(Math.ceil(10 * 1.25 + 10 * 12));
    const tiny: Price = { prompt: 0.1, completion: 0.3, source: 'upstream', ...withClasses({ prompt: 0.1, completion: 0.3 }, {}, 'upstream') };
    expect(classCostMicros(tiny, 599, 7, { cached: 0 })).toBe(62);
  });

  it('reads class prices from SkillBoss model entries under the names providers use', () => {
    expect(parseUpstreamPrice({ pricing: { prompt: 2.5, completion: 10, cached_prompt: 1.25, reasoning: 10 } })).toMatchObject({ cached: 1.25, reasoning: 10, cacheWrite: null });
    expect(parseUpstreamPrice({ pricing: { input: 1, output: 2, input_cache_read: 0.1, input_cache_write: 1.25, internal_reasoning: 2 } })).toMatchObject({ prompt: 1, cached: 0.1, cacheWrite: 1.25, reasoning: 2 });
    expect(parseUpstreamPrice({ cost: 0.075 })).toMatchObject({ prompt: 0.075, completion: 0.075, cached: null });
  });
});

describe('forecast', () => {
  it('projects the period end and the run-out time at the average rate so far', () => {
    const now = at('2026-12-11T00:00:00Z'); // 10 days into December
    const f = forecast({ spentMicros: 10_000_000, budgetMicros: 20_000_000, period: 'month', createdAt: at('2026-01-01T00:00:00Z'), now });
    expect(f.rateMicrosPerHour).toBe(Math.round(10_000_000 / 240));
    expect(f.projectedMicros).toBe(31_000_000); // $1/day for 31 days
    expect(iso(f.runsOutAt)).toBe('2026-12-21T00:00:00.000Z');
  });

  it('does not run out within the period when the rate is low, and total budgets have no period end', () => {
    const now = at('2026-12-11T00:00:00Z');
    expect(forecast({ spentMicros: 1_000_000, budgetMicros: 20_000_000, period: 'month', createdAt: 0, now }).runsOutAt).toBeNull();
    const t = forecast({ spentMicros: 5_000_000, budgetMicros: 10_000_000, period: 'total', createdAt: now - 5 * 86_400_000, now });
    expect(t.projectedMicros).toBeNull();
    expect(iso(t.runsOutAt)).toBe('2026-12-16T00:00:00.000Z');
    expect(forecast({ spentMicros: 0, budgetMicros: 10, period: 'day', createdAt: 0, now }).runsOutAt).toBeNull();
  });
});
