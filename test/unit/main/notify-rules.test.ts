/**
 * When the tray notifies, with a clock the test moves: budget thresholds once
 * per token per period, expiry warnings at 7, 3 and 1 days (each once),
 * upstream problems once per episode, rotations and webhook failures.
 */
import { describe, expect, it } from 'vitest';
import { DAY_MS } from '../../../proxy/core/time.js';
import { classifyAudit, NotifyRules, type BudgetObservation, type Observation } from '../../../main/logic/notify-rules.js';

/** A clock the test moves by hand: `clock.now += DAY_MS`. */
function testClock(start: number): { now: number; (): number } {
  const c = (() => c.now) as { now: number; (): number };
  c.now = start;
  return c;
}

const MAY_10 = Date.UTC(2026, 4, 10, 12);

function budget(kind: 'budget_80' | 'budget_100', period = '2026-05', tokenId = 'tok_a'): BudgetObservation {
  return { kind, tokenId, tokenName: 'research-agent', period, spentMicros: kind === 'budget_80' ? 8_000_000 : 10_000_000, budgetMicros: 10_000_000 };
}

const kinds = (ns: Array<{ kind: string }>) => ns.map((n) => n.kind);

describe('budget thresholds', () => {
  it('fire once per token per period: 80%, then 100%, never again that month', () => {
    const clock = testClock(MAY_10);
    const rules = new NotifyRules();
    const first = rules.evaluate({ budgets: [budget('budget_80')] }, clock());
    expect(first).toEqual([
      { key: 'budget:tok_a:2026-05:80', kind: 'budget_80', title: 'Budget at 80%: “research-agent”', body: 'It has spent $8.00 of $10.00 this month.', target: 'tokens' },
    ]);
    clock.now += DAY_MS;
    expect(rules.evaluate({ budgets: [budget('budget_80')] }, clock())).toEqual([]);
    const full = rules.evaluate({ budgets: [budget('budget_100')] }, clock());
    expect(kinds(full)).toEqual(['budget_100']);
    expect(full[0]!.body).toContain('until 2026-06-01');
    clock.now += 5 * DAY_MS;
    expect(rules.evaluate({ budgets: [budget('budget_80'), budget('budget_100')] }, clock())).toEqual([]);
  });

  it('fire again in the next period, and ignore a crossing from a period that has ended', () => {
    const clock = testClock(MAY_10);
    const rules = new NotifyRules();
    expect(kinds(rules.evaluate({ budgets: [budget('budget_80')] }, clock()))).toEqual(['budget_80']);
    clock.now = Date.UTC(2026, 5, 3);
    // A May row seen in June (the app was closed): the budget has reset since, not news.
    expect(rules.evaluate({ budgets: [budget('budget_100', '2026-05')] }, clock())).toEqual([]);
    expect(kinds(rules.evaluate({ budgets: [budget('budget_80', '2026-06')] }, clock()))).toEqual(['budget_80']);
  });

  it('are per token', () => {
    const rules = new NotifyRules();
    const out = rules.evaluate({ budgets: [budget('budget_80', '2026-05', 'tok_a'), budget('budget_80', '2026-05', 'tok_b')] }, MAY_10);
    expect(out.map((n) => n.key)).toEqual(['budget:tok_a:2026-05:80', 'budget:tok_b:2026-05:80']);
  });

  it('skip the 80% warning when the same step reached 100%', () => {
    const rules = new NotifyRules();
    expect(kinds(rules.evaluate({ budgets: [budget('budget_80'), budget('budget_100')] }, MAY_10))).toEqual(['budget_100']);
  });
});

describe('expiry warnings', () => {
  const token = (expiresAt: number) => ({ tokenId: 'tok_x', tokenName: 'ci-bot', expiresAt });

  it('come at 7, 3 and 1 days before, each once, as the clock moves', () => {
    const clock = testClock(MAY_10);
    const expiresAt = clock.now + 10 * DAY_MS;
    const rules = new NotifyRules();
    const seen: string[] = [];
    // Walk the clock in 6-hour steps to one hour past expiry.
    while (clock.now <= expiresAt + 3_600_000) {
      for (const n of rules.evaluate({ expiring: [token(expiresAt)] }, clock())) seen.push(`${Math.round((expiresAt - clock.now) / 3_600_000)}h ${n.title}`);
      clock.now += 6 * 3_600_000;
    }
    expect(seen).toEqual(['168h Token expires in 7 days: “ci-bot”', '72h Token expires in 3 days: “ci-bot”', '24h Token expires within a day: “ci-bot”']);
  });

  it('give only the tightest warning when the app was off past the earlier ones, and never a looser one after it', () => {
    const clock = testClock(MAY_10);
    const expiresAt = clock.now + 2 * DAY_MS;
    const rules = new NotifyRules();
    const out = rules.evaluate({ expiring: [token(expiresAt)] }, clock());
    expect(out.map((n) => n.key)).toEqual([`expiry:tok_x:${expiresAt}:3`]);
    expect(out[0]!.title).toBe('Token expires in 2 days: “ci-bot”');
    clock.now += 1.5 * DAY_MS;
    expect(rules.evaluate({ expiring: [token(expiresAt)] }, clock()).map((n) => n.key)).toEqual([`expiry:tok_x:${expiresAt}:1`]);
    expect(rules.evaluate({ expiring: [token(expiresAt)] }, clock())).toEqual([]);
  });

  it('start afresh when the token gets a new expiry, and say nothing after it expired', () => {
    const rules = new NotifyRules();
    const first = MAY_10 + 5 * DAY_MS;
    expect(rules.evaluate({ expiring: [token(first)] }, MAY_10)).toHaveLength(1);
    const extended = MAY_10 + 6 * DAY_MS;
    expect(rules.evaluate({ expiring: [token(extended)] }, MAY_10)).toHaveLength(1);
    expect(rules.evaluate({ expiring: [token(MAY_10 - 1)] }, MAY_10)).toEqual([]);
  });
});

describe('upstream problems', () => {
  it('key invalid and credits out fire once per episode and re-arm when they clear', () => {
    const rules = new NotifyRules();
    const up = (key: 'valid' | 'invalid', credits: 'ok' | 'out'): Observation => ({ upstream: { key, credits } });
    expect(kinds(rules.evaluate(up('invalid', 'ok'), MAY_10))).toEqual(['key_invalid']);
    expect(rules.evaluate(up('invalid', 'ok'), MAY_10 + 1000)).toEqual([]);
    expect(rules.evaluate(up('valid', 'ok'), MAY_10 + 2000)).toEqual([]);
    expect(kinds(rules.evaluate(up('invalid', 'ok'), MAY_10 + 3000))).toEqual(['key_invalid']);
    expect(kinds(rules.evaluate(up('valid', 'out'), MAY_10 + 4000))).toEqual(['credits_out']);
    expect(rules.evaluate(up('valid', 'out'), MAY_10 + 5000)).toEqual([]);
    expect(rules.evaluate(up('valid', 'ok'), MAY_10 + 6000)).toEqual([]);
    expect(kinds(rules.evaluate(up('valid', 'out'), MAY_10 + 7000))).toEqual(['credits_out']);
  });

  it('an unknown state (before the first sync) neither fires nor re-arms', () => {
    const rules = new NotifyRules();
    expect(kinds(rules.evaluate({ upstream: { key: 'invalid', credits: 'unknown' } }, MAY_10))).toEqual(['key_invalid']);
    expect(rules.evaluate({ upstream: { key: 'unknown', credits: 'unknown' } }, MAY_10)).toEqual([]);
    expect(rules.evaluate({ upstream: { key: 'invalid', credits: 'unknown' } }, MAY_10)).toEqual([]);
  });
});

describe('rotations and webhook failures', () => {
  const row = (id: number, event: string, actor: string, ts = MAY_10) => ({ id, ts, actor, event, tokenId: 'tok_r', tokenName: 'deployer' });

  it('announce rotations the human did not make themselves, once each', () => {
    const rules = new NotifyRules();
    const out = rules.evaluate({ audit: [row(1, 'token.rotate', 'tok_r'), row(2, 'token.rotate', 'cli'), row(3, 'token.rotate', 'admin'), row(4, 'token.create', 'tok_r')] }, MAY_10);
    expect(out).toEqual([{ key: 'audit:1', kind: 'rotation', title: 'Key rotated', body: 'Token “deployer” was rotated; the old secret keeps working for its grace period.', target: 'audit' }]);
    expect(rules.evaluate({ audit: [row(1, 'token.rotate', 'tok_r')] }, MAY_10)).toEqual([]);
    expect(rules.evaluate({ audit: [row(5, 'key.rotate', 'daemon')] }, MAY_10)[0]!.body).toMatch(/^The SkillBoss key was rotated/);
  });

  it('report a failing webhook once per token per day, however often it retries', () => {
    const rules = new NotifyRules();
    const fails = [row(10, 'token.webhook_failed', 'daemon'), row(11, 'webhook.delivery_failed', 'daemon', MAY_10 + 60_000)];
    expect(kinds(rules.evaluate({ audit: fails }, MAY_10 + 60_000))).toEqual(['webhook_failed']);
    expect(rules.evaluate({ audit: [row(12, 'token.webhook_failed', 'daemon', MAY_10 + 3_600_000)] }, MAY_10 + 3_600_000)).toEqual([]);
    const nextDay = MAY_10 + DAY_MS;
    expect(kinds(rules.evaluate({ audit: [row(13, 'token.webhook_failed', 'daemon', nextDay)] }, nextDay))).toEqual(['webhook_failed']);
  });

  it('tell the human of an upstream overrun, naming the request (issue 25)', () => {
    const rules = new NotifyRules();
    const detail = JSON.stringify({ request_id: 'req-42', reserved_micros: 10_000, charged_micros: 25_000 });
    const out = rules.evaluate({ audit: [{ ...row(20, 'usage.upstream_overrun', 'daemon'), detail }] }, MAY_10);
    expect(kinds(out)).toEqual(['upstream_overrun']);
    expect(out[0]!.body).toContain('req-42');
    expect(out[0]!.body).toContain('“deployer”');
    expect(rules.evaluate({ audit: [{ ...row(20, 'usage.upstream_overrun', 'daemon'), detail }] }, MAY_10)).toEqual([]);
  });

  it('skip lifecycle rows older than a day (found after a long downtime)', () => {
    const rules = new NotifyRules();
    expect(rules.evaluate({ audit: [row(20, 'token.rotate', 'daemon', MAY_10 - 2 * DAY_MS)] }, MAY_10)).toEqual([]);
  });

  it('classifies by event name', () => {
    expect(classifyAudit({ event: 'token.auto_rotate', actor: 'daemon' })).toBe('rotation');
    expect(classifyAudit({ event: 'token.auto_rotate_scheduled', actor: 'tok_a' })).toBe(null);
    expect(classifyAudit({ event: 'token.rotate_failed', actor: 'daemon' })).toBe(null);
    expect(classifyAudit({ event: 'webhook.failed', actor: 'daemon' })).toBe('webhook_failed');
    expect(classifyAudit({ event: 'token.revoke', actor: 'tok_a' })).toBe(null);
  });
});

describe('memory and floods', () => {
  it('survives a restart through its JSON memory (nothing repeats)', () => {
    const a = new NotifyRules();
    const o: Observation = { budgets: [budget('budget_80')], upstream: { key: 'invalid', credits: 'ok' }, expiring: [{ tokenId: 't', tokenName: 'n', expiresAt: MAY_10 + 2 * DAY_MS }] };
    expect(a.evaluate(o, MAY_10)).toHaveLength(3);
    const b = new NotifyRules(JSON.parse(JSON.stringify(a.memory())) as Record<string, number>);
    expect(b.evaluate(o, MAY_10 + 1000)).toEqual([]);
  });

  it('forgets entries that can no longer fire', () => {
    const rules = new NotifyRules();
    rules.evaluate({ budgets: [budget('budget_80')] }, MAY_10);
    expect(Object.keys(rules.memory())).toEqual(['budget:tok_a:2026-05:80']);
    rules.evaluate({}, Date.UTC(2026, 6, 1));
    expect(rules.memory()).toEqual({});
  });

  it('collapses more than three notices at once into two and a summary', () => {
    const rules = new NotifyRules();
    const many = ['a', 'b', 'c', 'd', 'e'].map((t) => budget('budget_80', '2026-05', `tok_${t}`));
    const out = rules.evaluate({ budgets: many }, MAY_10);
    expect(kinds(out)).toEqual(['budget_80', 'budget_80', 'summary']);
    expect(out[2]!.title).toBe('3 more alerts');
    // The collapsed ones count as shown: no second wave.
    expect(rules.evaluate({ budgets: many }, MAY_10 + 1000)).toEqual([]);
  });
});
