/** The one parser for typed money and counts (dashboard, admin API, CLI): what it takes, what it refuses and why. */
import { describe, expect, it } from 'vitest';
import { parseCount, parseUsd } from '../../../wire/fields.js';
import { percentile } from '../../../proxy/admin/series.js';

describe('parseUsd', () => {
  it.each([
    ['5', 5],
    ['5.00', 5],
    ['$5', 5],
    [' $ 5.5 ', 5.5],
    ['0.005', 0.005],
    ['.5', 0.5],
    ['0', 0],
    [12.5, 12.5],
  ])('takes %j as %d', (input, value) => {
    expect(parseUsd(input)).toEqual({ ok: true, value });
  });

  it.each([
    ['', /enter an amount/],
    ['abc', /not an amount/],
    ['5,00', /dot/],
    ['-5', /0 or more/],
    ['$', /not an amount/],
    ['1.2.3', /not an amount/],
    ['5e3', /not an amount/],
    ['0.0000001', /6 decimals/],
    ['2000000', /at most 1,000,000/],
    [Number.NaN, /not an amount/],
    [Number.POSITIVE_INFINITY, /not an amount/],
    [-1, /0 or more/],
    [1.234567891, /6 decimals/],
    ['$1,250.50', /not an amount/],
    ['5 USD', /not an amount/],
    ['0x10', /not an amount/],
    ['Infinity', /not an amount/],
  ])('refuses %j, saying why', (input, why) => {
    const r = parseUsd(input);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toMatch(why);
  });
});

describe('parseCount', () => {
  it('takes whole numbers in range, typed or given', () => {
    expect(parseCount('60', 1, 100)).toEqual({ ok: true, value: 60 });
    expect(parseCount(7, 1, 10)).toEqual({ ok: true, value: 7 });
  });
  it('refuses the rest', () => {
    expect(parseCount('ten', 1, 100)).toMatchObject({ ok: false, error: 'must be a whole number' });
    expect(parseCount('1,000', 1, 10_000)).toMatchObject({ ok: false, error: 'must be a whole number' });
    expect(parseCount('0x10', 1, 100)).toMatchObject({ ok: false, error: 'must be a whole number' });
    expect(parseCount('1.5', 1, 100)).toMatchObject({ ok: false, error: 'must be a whole number' });
    expect(parseCount('0', 1, 100)).toMatchObject({ ok: false, error: 'must be more than 0' });
    expect(parseCount('101', 1, 100)).toMatchObject({ ok: false, error: 'must be at most 100' });
    expect(parseCount('', 1, 100)).toMatchObject({ ok: false });
    expect(parseCount(Number.NaN, 1, 100)).toMatchObject({ ok: false });
  });
});

describe('latency percentiles from a log-scale histogram', () => {
  it('lands within one bin (±4.5%) of the true value', () => {
    const latencies = Array.from({ length: 1000 }, (_, i) => 10 + i); // 10 … 1009 ms
    const bins = new Map<number, number>();
    for (const l of latencies) {
      const k = Math.floor(Math.log2(l) * 8);
      bins.set(k, (bins.get(k) ?? 0) + 1);
    }
    const p50 = percentile(bins, 0.5)!;
    const p95 = percentile(bins, 0.95)!;
    expect(Math.abs(p50 - 509) / 509).toBeLessThan(0.045);
    expect(Math.abs(p95 - 959) / 959).toBeLessThan(0.045);
    expect(percentile(new Map(), 0.5)).toBeNull();
  });
});

describe('the other field rules', () => {
  it('an amount of money is more than 0; a price may be 0', async () => {
    const { parseAmount, MORE_THAN_ZERO } = await import('../../../wire/fields.js');
    for (const v of [0, '0', -1, '-1', '$0.000000']) expect(parseAmount(v)).toEqual({ ok: false, error: MORE_THAN_ZERO });
    expect(parseAmount('0.000001')).toEqual({ ok: true, value: 0.000001 });
    expect(parseUsd('0')).toEqual({ ok: true, value: 0 });
  });

  it('ports, durations, periods and token ids', async () => {
    const { parsePort, parsePositive, parseDuration, parsePeriod, isTokenId } = await import('../../../wire/fields.js');
    expect(parsePort('0')).toEqual({ ok: true, value: 0 });
    expect(parsePort('7373')).toEqual({ ok: true, value: 7373 });
    for (const v of ['0x10', '1e3', '65536', '-1', '', '80.5', '7,373']) expect(parsePort(v).ok, v).toBe(false);
    expect(parsePositive('2.5')).toEqual({ ok: true, value: 2.5 });
    for (const v of ['0', '0x10', '1e1', 'Infinity', '', '-3']) expect(parsePositive(v).ok, v).toBe(false);
    expect(parseDuration(0, 30)).toEqual({ ok: true, value: 0 });
    expect(parseDuration('1.5', 30)).toEqual({ ok: true, value: 1.5 });
    expect(parseDuration(-1, 30)).toEqual({ ok: false, error: 'must be 0 or more' });
    expect(parseDuration(31, 30)).toEqual({ ok: false, error: 'must be at most 30' });
    expect(parsePeriod('week')).toEqual({ ok: true, value: 'week' });
    expect(parsePeriod('yearly').ok).toBe(false);
    expect(isTokenId('tok_0123456789abcdef')).toBe(true);
    for (const v of ['tok_0123', 'sk-sbl-x', 'tok_0123456789abcdef0', 'tok_0123456789abcde!']) expect(isTokenId(v), v).toBe(false);
  });
});
