/**
 * Issue 27 item 1: an answer's last byte waits for its ledger row's write to
 * the ledger log, not for the SQLite commit, and a SIGKILL right after the
 * answers loses none of them. The daemon is the real CLI (`serve`) in a child
 * process; before the requests another process takes the database's write
 * lock (as a CLI command or a backup tool may), so every commit stalls for
 * the daemon's busy timeout. The answers still arrive; the
 * daemon is killed while its commit waits; after a restart every answered
 * request is in the ledger exactly once, spend equals the ledger up the
 * chain, and nothing is reserved. (Before the ledger log, the answers came
 * only after the commit had failed, held in memory, and the kill lost them.)
 */
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { periodOf } from '../../proxy/core/time.js';
import { openDatabase, type DB } from '../../proxy/db/database.js';
import { osKeychain } from '../../proxy/keychain/store.js';
import { startSimulator, type Simulator } from '../../proxy/simulator/index.js';
import { randomBase62 } from '../../proxy/tokens/format.js';
import { scopesFromPreset } from '../../proxy/tokens/scopes.js';
import { TokenStore } from '../../proxy/tokens/store.js';
import { startCli, type Background } from '../helpers/cli.js';
import { tempDir } from '../helpers/stack.js';

const REQUESTS = 16;

let sim: Simulator;
let dataDir: string;
const daemons: Background[] = [];
let locker: DB | undefined;

beforeAll(async () => {
  const simKey = `sk-test-${randomBase62(32)}`;
  sim = await startSimulator({ apiKey: simKey, balanceUsd: 1000 });
  dataDir = tempDir('sbs-ledger-log-');
  osKeychain(dataDir).set(simKey);
});
afterAll(async () => {
  locker?.close();
  for (const d of daemons) await d.stop('SIGKILL');
  await sim?.close();
  try {
    osKeychain(dataDir).remove();
  } catch {
    /* already gone */
  }
  rmSync(dataDir, { recursive: true, force: true });
});

async function serve(): Promise<{ base: string; daemon: Background }> {
  const daemon = startCli(['--data-dir', dataDir, 'serve', '--port', '0', '--upstream', sim.url]);
  daemons.push(daemon);
  const m = await daemon.waitFor(/listening (http:\/\/\S+)\/v1/, 20_000);
  return { base: m[1]!, daemon };
}

describe('the ledger log', () => {
  it('answers before the commit, and a SIGKILL right after the answers loses none of them', { timeout: 90_000 }, async () => {
    let db = openDatabase(dataDir);
    const tokens = new TokenStore(db, Date.now);
    const lead = tokens.create({ name: 'fleet', scopes: scopesFromPreset('write'), budget: 50_000_000 }, 'test');
    const kids = Array.from({ length: REQUESTS }, (_, i) => tokens.create({ name: `agent-${i}`, scopes: scopesFromPreset('write'), parentId: lead.token.id }, 'test'));
    db.close();

    const { base, daemon } = await serve();
    // One answered request first, so the daemon's start-up writes (the price sync) are behind it.
    const first = await fetch(`${base}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${kids[0]!.secret}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'claude-4-5-sonnet', messages: [{ role: 'user', content: 'warm up' }], max_tokens: 16 }),
    });
    expect(first.status).toBe(200);
    await first.text();

    // Another process holds the database's write lock: from now on every commit of the daemon waits its busy timeout, then fails.
    locker = openDatabase(dataDir);
    locker.exec('BEGIN IMMEDIATE');
    sim.faults.latencyMs = 100;
    let answered = 0;
    const outcomes = kids.map(async (k, i) => {
      try {
        const res = await fetch(`${base}/v1/chat/completions`, {
          method: 'POST',
          headers: { authorization: `Bearer ${k.secret}`, 'content-type': 'application/json' },
          body: JSON.stringify({ model: 'claude-4-5-sonnet', messages: [{ role: 'user', content: `request ${i}` }], max_tokens: 16, ...(i % 2 ? { stream: true } : {}) }),
        });
        const text = await res.text();
        const ok = res.status === 200 && (i % 2 ? text.includes('data: [DONE]') : JSON.parse(text).object === 'chat.completion');
        if (ok) answered++;
        return ok;
      } catch {
        return false;
      }
    });
    await new Promise<void>((resolve) => {
      const check = () => (answered >= 1 ? resolve() : setTimeout(check, 1));
      check();
    });
    expect(await daemon.stop('SIGKILL')).toBeNull();
    delete sim.faults.latencyMs;
    const acked = await Promise.all(outcomes);
    locker.exec('ROLLBACK');
    locker.close();
    locker = undefined;
    expect(acked.filter(Boolean).length).toBeGreaterThanOrEqual(1);

    const restarted = await serve();
    db = openDatabase(dataDir, { readonly: true });
    let total = 0;
    try {
      expect(db.pragma('quick_check', { simple: true })).toBe('ok');
      const rowsOf = db.prepare('SELECT status, cost_micros FROM usage WHERE token_id = ?');
      const spendOf = db.prepare('SELECT spent_micros FROM spend WHERE token_id = ? AND period = ?').pluck();
      for (const [i, k] of kids.entries()) {
        const rows = rowsOf.all(k.token.id) as Array<{ status: number; cost_micros: number }>;
        // Request 0 also made the warm-up call; a request refused while the commits failed may have its refusal's row.
        const answeredRows = rows.filter((r) => r.status === 200).length - (i === 0 ? 1 : 0);
        expect(answeredRows, `request ${i}`).toBeLessThanOrEqual(1);
        if (acked[i]) expect(answeredRows, `answered request ${i}`).toBe(1);
        const sum = rows.reduce((a, r) => a + r.cost_micros, 0);
        expect((spendOf.get(k.token.id, periodOf(Date.now())) as number | undefined) ?? 0, `spend of ${i}`).toBe(sum);
        total += sum;
      }
      expect(spendOf.get(lead.token.id, periodOf(Date.now()))).toBe(total);
    } finally {
      db.close();
    }
    const balance = (await (await fetch(`${restarted.base}/v1/balance`, { headers: { authorization: `Bearer ${lead.secret}` } })).json()) as { reserved: number; spent: number };
    expect(balance).toMatchObject({ reserved: 0, spent: total / 1e6 });
    expect(restarted.daemon.output()).toContain('from the ledger log');
  });
});
