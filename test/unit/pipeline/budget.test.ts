/**
 * Budgets over a real SQLite file: check-and-reserve along the chain,
 * settlement of ledger + spend in one transaction, warnings once per period,
 * a settlement that costs more than its reservation, and the month boundary.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SidecarEvents } from '../../../proxy/core/events.js';
import { openDatabase, type DB } from '../../../proxy/db/database.js';
import type { LedgerRow } from '../../../proxy/core/ledger.js';
import type { Budgets } from '../../../proxy/pipeline/budget.js';
import { createBudgets } from '../../../proxy/server/deps.js';
import { scopesFromPreset } from '../../../proxy/tokens/scopes.js';
import { TokenStore, type Token } from '../../../proxy/tokens/store.js';
import { refusal } from '../../helpers/refusal.js';

const JAN = Date.UTC(2031, 0, 15, 12);
const FEB = Date.UTC(2031, 1, 1);

let dir: string;
let db: DB;
let tokens: TokenStore;
let events: SidecarEvents;
let logLines: Array<{ level: number; msg: string; tokenId?: string }>;
let budgets: Budgets;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'sbs-budget-'));
  db = openDatabase(dir);
  tokens = new TokenStore(db, () => JAN);
  events = new SidecarEvents();
  logLines = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString().split('\n')) if (line) logLines.push(JSON.parse(line) as (typeof logLines)[number]);
      cb();
    },
  });
  budgets = createBudgets(db, events, pino({ level: 'info' }, sink));
});
afterEach(() => {
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

function token(budgetMicros: number | null, parentId: string | null = null): Token {
  return tokens.create({ name: 't', scopes: scopesFromPreset('write'), budget: budgetMicros, parentId }, 'test').token;
}

let seq = 0;
function row(tokenId: string, cost: number, ts = JAN): LedgerRow {
  return {
    ts,
    request_id: `r${++seq}`,
    token_id: tokenId,
    method: 'POST',
    route: '/v1/chat/completions',
    model: 'm',
    prompt_tokens: 1,
    completion_tokens: 1,
    cached_tokens: 0,
    cache_write_tokens: 0,
    reasoning_tokens: 0,
    cost_micros: cost,
    status: 200,
    latency_ms: 1,
    streamed: 0,
    usage_source: 'upstream',
    cost_source: 'price',
    error_code: null,
    error_message: null,
  };
}

const spendRow = (id: string, period = '2031-01') =>
  db.prepare('SELECT spent_micros, requests FROM spend WHERE token_id = ? AND period = ?').get(id, period) as { spent_micros: number; requests: number } | undefined;

describe('reserve', () => {
  it('lets exactly as many worst cases through as fit, then 402s naming this token and the reset', () => {
    const t = token(1000);
    const chain = tokens.chain(t.id);
    const held = [1, 2, 3].map(() => budgets.reserve(chain, 300, JAN));
    expect(budgets.reservedFor(t.id)).toBe(900);
    const e = refusal(() => budgets.reserve(chain, 300, JAN));
    expect(e.status).toBe(402);
    expect(e.code).toBe('budget_exhausted');
    expect(e.message).toBe(
      `Budget exhausted: this token's monthly budget (${t.id}) is $0.001 with $0.0001 left, and this request may cost up to $0.0003. ` +
        'It resets at 2031-02-01T00:00:00.000Z. Lower max_tokens, or ask the human to raise the budget.',
    );
    // Exactly the remainder still fits.
    const last = budgets.reserve(chain, 100, JAN);
    for (const r of [...held, last]) budgets.release(r);
    expect(budgets.reservedFor(t.id)).toBe(0);
  });

  it('reserves against every ancestor with a budget and names the one that is exhausted', () => {
    const root = token(1000);
    const mid = token(null, root.id);
    const leafA = token(800, mid.id);
    const leafB = token(800, mid.id);
    const a = budgets.reserve(tokens.chain(leafA.id), 600, JAN);
    expect(budgets.reservedFor(root.id)).toBe(600);
    expect(budgets.reservedFor(mid.id)).toBe(0);
    const e = refusal(() => budgets.reserve(tokens.chain(leafB.id), 600, JAN));
    expect(e.message).toContain(`the monthly budget of its ancestor ${root.name} (${root.id})`);
    expect(e.message).toContain('$0.0004 left');
    expect(budgets.remaining(tokens.chain(leafB.id), JAN)).toMatchObject({ tokenId: root.id, remainingMicros: 400, budgetMicros: 1000 });
    budgets.release(a);
    budgets.release(a); // twice is harmless
    expect(budgets.reservedFor(root.id)).toBe(0);
    expect(budgets.reservedFor(leafA.id)).toBe(0);
  });

  it('needs something left even for a request whose cost is unknown up front', async () => {
    const t = token(100);
    await budgets.record(null, tokens.chain(t.id), row(t.id, 100));
    expect(refusal(() => budgets.reserve(tokens.chain(t.id), 0, JAN)).status).toBe(402);
    const free = token(null);
    budgets.release(budgets.reserve(tokens.chain(free.id), 10 ** 12, JAN));
  });
});

describe('settle', () => {
  it('writes the ledger row and charges the whole chain in one transaction, then releases', async () => {
    const root = token(10_000);
    const leaf = token(5_000, root.id);
    const chain = tokens.chain(leaf.id);
    const r = budgets.reserve(chain, 700, JAN);
    const seen: unknown[] = [];
    events.on('request', (e) => seen.push(e));
    await budgets.record(r, chain, row(leaf.id, 650));
    expect(budgets.reservedFor(leaf.id)).toBe(0);
    expect(budgets.reservedFor(root.id)).toBe(0);
    expect(spendRow(leaf.id)).toEqual({ spent_micros: 650, requests: 1 });
    expect(spendRow(root.id)).toEqual({ spent_micros: 650, requests: 1 });
    expect(db.prepare('SELECT count(*) FROM usage').pluck().get()).toBe(1);
    expect(seen).toHaveLength(1);
    expect(budgets.spent(root.id, JAN)).toBe(650);
  });

  it('records nothing when the transaction fails, and the reservation is kept', async () => {
    const t = token(1000);
    const chain = tokens.chain(t.id);
    const r = budgets.reserve(chain, 500, JAN);
    db.exec("CREATE TRIGGER fail_usage BEFORE INSERT ON usage BEGIN SELECT RAISE(ABORT, 'disk full'); END");
    await expect(budgets.record(r, chain, row(t.id, 400))).rejects.toThrow(/disk full/);
    expect(spendRow(t.id)).toBeUndefined();
    expect(budgets.spent(t.id, JAN)).toBe(0);
    expect(budgets.reservedFor(t.id)).toBe(500);
  });

  it('records and logs the 80% and 100% warnings once per token and period', async () => {
    const root = token(1000);
    const leaf = token(null, root.id);
    const chain = tokens.chain(leaf.id);
    const announced: string[] = [];
    events.on('budget', (e) => announced.push(`${e.kind}:${e.token_id}:${e.period}`));
    await budgets.record(null, chain, row(leaf.id, 790));
    expect(announced).toEqual([]);
    await budgets.record(null, chain, row(leaf.id, 10));
    expect(announced).toEqual([`budget_80:${root.id}:2031-01`]);
    await budgets.record(null, chain, row(leaf.id, 200));
    expect(announced).toEqual([`budget_80:${root.id}:2031-01`, `budget_100:${root.id}:2031-01`]);
    // Raising the budget and crossing again in the same period announces nothing new.
    tokens.setBudget(root.id, 10_000, 'test');
    const raised = tokens.chain(leaf.id);
    await budgets.record(null, raised, row(leaf.id, 7_000));
    await budgets.record(null, raised, row(leaf.id, 2_000));
    expect(announced).toHaveLength(2);
    const rows = db.prepare('SELECT kind, token_id, period FROM events ORDER BY id').all();
    expect(rows).toEqual([
      { kind: 'budget_80', token_id: root.id, period: '2031-01' },
      { kind: 'budget_100', token_id: root.id, period: '2031-01' },
    ]);
    expect(logLines.filter((l) => l.msg.includes('80%')).map((l) => l.tokenId)).toEqual([root.id]);
    expect(logLines.filter((l) => l.msg.includes('100%')).map((l) => l.tokenId)).toEqual([root.id]);
    // A new period warns again.
    await budgets.record(null, raised, row(leaf.id, 8_000, FEB));
    expect(announced.at(-1)).toBe(`budget_80:${root.id}:2031-02`);
  });

  it('charges an actual cost above the reservation, logs it, and refuses everything after', async () => {
    const t = token(1000);
    const chain = tokens.chain(t.id);
    const r = budgets.reserve(chain, 900, JAN);
    await budgets.record(r, chain, row(t.id, 1200));
    expect(spendRow(t.id)!.spent_micros).toBe(1200);
    expect(logLines.some((l) => l.level === 40 && l.msg.includes('cost more than its reservation'))).toBe(true);
    expect(logLines.some((l) => l.level === 40 && l.msg.includes('passed its monthly budget'))).toBe(true);
    expect(db.prepare("SELECT count(*) FROM events WHERE kind = 'budget_overrun'").pluck().get()).toBe(1);
    expect(refusal(() => budgets.reserve(chain, 1, JAN)).message).toContain('with $0.00 left');
    expect(refusal(() => budgets.reserve(chain, 0, JAN)).status).toBe(402);
    expect(budgets.remaining(chain, JAN).remainingMicros).toBe(-200);
  });
});

describe('periods', () => {
  it('starts each calendar month (UTC) from zero and keeps the old one', async () => {
    const t = token(1000);
    const chain = tokens.chain(t.id);
    await budgets.record(null, chain, row(t.id, 1000));
    expect(refusal(() => budgets.reserve(chain, 1, FEB - 1) /* the last millisecond of January */).message).toContain('It resets at 2031-02-01T00:00:00.000Z');
    const r = budgets.reserve(chain, 1000, FEB);
    await budgets.record(r, chain, row(t.id, 10, FEB));
    expect(spendRow(t.id, '2031-01')!.spent_micros).toBe(1000);
    expect(spendRow(t.id, '2031-02')!.spent_micros).toBe(10);
    expect(budgets.spent(t.id, FEB)).toBe(10);
  });

  it('reads spend of the current period from the database after a restart', async () => {
    const t = token(1000);
    await budgets.record(null, tokens.chain(t.id), row(t.id, 600));
    const fresh = createBudgets(db, new SidecarEvents());
    expect(fresh.spent(t.id, JAN)).toBe(600);
    expect(fresh.reservedFor(t.id)).toBe(0);
    expect(refusal(() => fresh.reserve(tokens.chain(t.id), 401, JAN)).status).toBe(402);
  });
});

describe('group commit', () => {
  it('commits the settlements of one turn in one transaction, each charged in order', async () => {
    const root = token(1_000_000);
    const chain = tokens.chain(root.id);
    const before = db.prepare('SELECT count(*) FROM usage').pluck().get() as number;
    const rs = Array.from({ length: 50 }, () => budgets.reserve(chain, 10, JAN));
    const transaction = db.transaction.bind(db);
    let transactions = 0;
    db.transaction = ((fn: Parameters<typeof transaction>[0]) => {
      transactions++;
      return transaction(fn);
    }) as typeof db.transaction;
    try {
      await Promise.all(rs.map((r) => budgets.record(r, chain, row(root.id, 7))));
    } finally {
      db.transaction = transaction;
    }
    expect(transactions).toBe(1);
    expect((db.prepare('SELECT count(*) FROM usage').pluck().get() as number) - before).toBe(50);
    expect(spendRow(root.id)).toEqual({ spent_micros: 350, requests: 50 });
    expect(budgets.reservedFor(root.id)).toBe(0);
    expect(budgets.spent(root.id, JAN)).toBe(350);
  });

  it('holds a reservation until its row is committed', async () => {
    const t = token(1000);
    const chain = tokens.chain(t.id);
    const r = budgets.reserve(chain, 600, JAN);
    const done = budgets.record(r, chain, row(t.id, 500));
    // Not yet committed: the money is still held by the reservation, not yet spent.
    expect(budgets.reservedFor(t.id)).toBe(600);
    expect(budgets.spent(t.id, JAN)).toBe(0);
    expect(refusal(() => budgets.reserve(chain, 500, JAN)).status).toBe(402);
    await done;
    expect(budgets.reservedFor(t.id)).toBe(0);
    expect(budgets.spent(t.id, JAN)).toBe(500);
  });
});
