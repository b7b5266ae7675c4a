/**
 * A daemon killed with SIGKILL in the middle of streamed requests restarts
 * with consistent totals. The daemon is the real CLI (`serve`) in a child
 * process over a temp data dir, the upstream key is in the OS keychain for
 * that data dir, and the simulator runs in this process.
 *
 * Every request gets its own token (children of one budgeted parent), so the
 * ledger can be checked request by request: each stream whose client saw
 * `[DONE]` is in the ledger exactly once; each token's spend equals the sum of
 * its ledger rows, the parent's equals its children's; nothing is reserved
 * after the restart; and the database passes `PRAGMA quick_check`.
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

const REQUESTS = 40;
const SHORT = 'quick answer please';
/** Request i asks for an echo of 8·(i+1) words: streams end one after another, so the kill lands among finishing ones. */
const words = (n: number) => Array.from({ length: n }, (_, i) => `w${i}`).join(' ');

let sim: Simulator;
let dataDir: string;
const daemons: Background[] = [];

beforeAll(async () => {
  const simKey = `sk-test-${randomBase62(32)}`;
  sim = await startSimulator({ apiKey: simKey, balanceUsd: 1000 });
  dataDir = tempDir('sbs-crash-');
  osKeychain(dataDir).set(simKey);
});
afterAll(async () => {
  for (const d of daemons) await d.stop('SIGKILL');
  await sim?.close();
  try {
    osKeychain(dataDir).remove();
  } catch {
    /* already gone */
  }
  rmSync(dataDir, { recursive: true, force: true });
});

async function serve(): Promise<string> {
  const d = startCli(['--data-dir', dataDir, 'serve', '--port', '0', '--upstream', sim.url]);
  daemons.push(d);
  const m = await d.waitFor(/listening (http:\/\/\S+\/v1)/, 20_000);
  return m[1]!;
}

interface Outcome {
  sawDone: boolean;
  events: number;
  error: boolean;
}

/** One streamed chat completion; `progress` counts the events received so far. */
function stream(baseURL: string, secret: string, content: string, progress: { events: number }): Promise<Outcome> {
  return (async () => {
    let text = '';
    try {
      const res = await fetch(`${baseURL}/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'claude-4-5-sonnet', messages: [{ role: 'user', content }], stream: true }),
      });
      if (res.status !== 200) throw new Error(`status ${res.status}: ${await res.text()}`);
      const decoder = new TextDecoder();
      for await (const chunk of res.body!) {
        text += decoder.decode(chunk as Uint8Array, { stream: true });
        progress.events = text.split('\n\n').length - 1;
      }
      return { sawDone: text.includes('data: [DONE]\n\n'), events: progress.events, error: false };
    } catch {
      return { sawDone: text.includes('data: [DONE]\n\n'), events: progress.events, error: true };
    }
  })();
}

function waitUntil(cond: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const check = () => {
      if (cond()) return resolve();
      if (Date.now() - started > timeoutMs) return reject(new Error(`timed out waiting for ${what}`));
      setTimeout(check, 5);
    };
    check();
  });
}

describe('SIGKILL in the middle of streamed requests', () => {
  it('restarts with every finished request counted once, spend equal to the ledger, nothing reserved', { timeout: 90_000 }, async () => {
    // Tokens straight into the data dir's database, as the CLI would.
    let db: DB = openDatabase(dataDir);
    const tokens = new TokenStore(db, Date.now);
    const lead = tokens.create({ name: 'fleet', scopes: scopesFromPreset('write'), budget: 50_000_000 }, 'test');
    const parent = lead.token;
    const children = Array.from({ length: REQUESTS }, (_, i) => tokens.create({ name: `agent-${i}`, scopes: scopesFromPreset('write'), parentId: parent.id }, 'test'));
    db.close();

    const baseURL = await serve();
    sim.faults.chunkDelayMs = 10;
    const progress = children.map(() => ({ events: 0 }));
    const outcomes = children.map((c, i) => stream(baseURL, c.secret, words(8 * (i + 1)), progress[i]!));
    let finished = 0;
    for (const p of outcomes) void p.then(() => finished++);

    await waitUntil(() => finished >= REQUESTS / 2, 'half of the streams to finish');
    expect(await daemons[0]!.stop('SIGKILL')).toBeNull(); // no exit code: it died by the signal
    const results = await Promise.all(outcomes);
    expect(results.filter((r) => r.sawDone).length).toBeGreaterThanOrEqual(REQUESTS / 2);
    // Cut mid-stream: they had received events and no [DONE].
    expect(results.filter((r) => !r.sawDone && r.error && r.events >= 5).length).toBeGreaterThan(REQUESTS / 4);

    const baseURL2 = await serve();
    db = openDatabase(dataDir);
    let childrenTotal = 0;
    try {
      expect(db.pragma('quick_check', { simple: true })).toBe('ok');
      const period = periodOf(Date.now());
      const rowsOf = db.prepare('SELECT status, cost_micros FROM usage WHERE token_id = ?');
      const spendOf = db.prepare('SELECT spent_micros FROM spend WHERE token_id = ? AND period = ?').pluck();
      
      for (const [i, c] of children.entries()) {
        const rows = rowsOf.all(c.token.id) as Array<{ status: number; cost_micros: number }>;
        if (results[i]!.sawDone) {
          expect(rows, `request ${i} finished`).toHaveLength(1);
          expect(rows[0]!.status).toBe(200);
        } else {
          expect(rows.length, `request ${i} was cut`).toBeLessThanOrEqual(1);
        }
        const sum = rows.reduce((a, r) => a + r.cost_micros, 0);
        expect((spendOf.get(c.token.id, period) as number | undefined) ?? 0, `spend of request ${i}`).toBe(sum);
        childrenTotal += sum;
      }
      expect(childrenTotal).toBeGreaterThan(0);
      expect(spendOf.get(parent.id, period)).toBe(childrenTotal);
    } finally {
      db.close();
    }

    // The restarted daemon agrees with the ledger, holds no reservation against the budget, and serves.
    const balance = async () =>
      (await (await fetch(`${baseURL2}/balance`, { headers: { authorization: `Bearer ${lead.secret}` } })).json()) as { reserved: number; spent: number; remaining: number };
    const b = await balance();
    expect(b).toMatchObject({ reserved: 0, spent: childrenTotal / 1e6, remaining: (50_000_000 - childrenTotal) / 1e6 });
    const after = await stream(baseURL2, children[0]!.secret, SHORT, { events: 0 });
    expect(after.sawDone).toBe(true);
    expect((await balance()).spent).toBeGreaterThan(childrenTotal / 1e6);
  });
});
