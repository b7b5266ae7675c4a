/**
 * Group I: persistence and keychain faults. When the keychain or the
 * database cannot be trusted the daemon fails closed with a message that
 * says what to fix; a SIGKILL under load loses no acknowledged request and
 * leaves nothing reserved; everything in the data dir is owner-only.
 */
import { spawn } from 'node:child_process';
import { chmodSync, chownSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { periodOf } from '../../proxy/core/time.js';
import { openDatabase } from '../../proxy/db/database.js';
import { osKeychain } from '../../proxy/keychain/store.js';
import { startSimulator, type Simulator } from '../../proxy/simulator/index.js';
import { randomBase62 } from '../../proxy/tokens/format.js';
import { scopesFromPreset } from '../../proxy/tokens/scopes.js';
import { TokenStore, type Created } from '../../proxy/tokens/store.js';
import { CLI, runCli, startCli, type Background } from '../helpers/cli.js';
import { startStack, tempDir } from '../helpers/stack.js';
import { chatBody, filesUnder, findNeedles, snapshotFiles } from './kit.js';

let sim: Simulator;
let simKey: string;
const daemons: Background[] = [];
const dirs: string[] = [];

beforeAll(async () => {
  simKey = `sk-test-${randomBase62(32)}`;
  sim = await startSimulator({ apiKey: simKey, balanceUsd: 1000 });
});
afterAll(async () => {
  for (const d of daemons) await d.stop('SIGKILL');
  await sim?.close();
  for (const d of dirs) {
    try {
      osKeychain(d).remove();
    } catch {
      /* none */
    }
    rmSync(d, { recursive: true, force: true });
  }
});

function newDir(): string {
  const d = tempDir('sbs-faults-');
  dirs.push(d);
  return d;
}

function serve(dataDir: string, env: NodeJS.ProcessEnv = {}): Background {
  const d = startCli(['--data-dir', dataDir, 'serve', '--port', '0', '--upstream', sim.url], env);
  daemons.push(d);
  return d;
}

function tokensIn(dataDir: string, make: (store: TokenStore) => Created[]): Created[] {
  const db = openDatabase(dataDir);
  try {
    return make(new TokenStore(db, Date.now));
  } finally {
    db.close();
  }
}

describe('I. keychain faults', () => {
  it('I1 Electron safeStorage precedent (silent fallback to a weak store): with no keychain, agents get 503 and a key in the environment is NOT used instead', async () => {
    const dir = newDir();
    const [t] = tokensIn(dir, (s) => [s.create({ name: 'a', scopes: scopesFromPreset('write') }, 'test')]);
    const d = serve(dir, { DBUS_SESSION_BUS_ADDRESS: 'unix:path=/nonexistent/bus', SKILLBOSS_API_KEY: simKey, OPENAI_API_KEY: simKey });
    const base = (await d.waitFor(/listening (http:\S+)\/v1/))[1]!;
    sim.clearRequests();
    const res = await fetch(`${base}/v1/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${t!.secret}`, 'content-type': 'application/json' }, body: JSON.stringify(chatBody()) });
    expect(res.status).toBe(503);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('keychain_unavailable');
    expect(((await (await fetch(`${base}/healthz`)).json()) as { key: string }).key).toBe('unavailable');
    expect(sim.requests.filter((r) => r.headers.authorization === `Bearer ${simKey}`)).toHaveLength(0);
    await d.stop();
    const files = new Map<string, Buffer | string>();
    snapshotFiles(dir, 'data dir', files);
    expect(findNeedles(files, [simKey])).toEqual([]);
    expect(d.output()).toContain('keychain');
  });

  it('I2 no silent fallback: an unknown key store name refuses to start, saying which stores exist', async () => {
    const r = await runCli(['--data-dir', newDir(), 'serve', '--port', '0', '--upstream', sim.url], { env: { SKILLBOSS_SIDECAR_KEY_STORE: 'plaintext' } });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('SKILLBOSS_SIDECAR_KEY_STORE=plaintext is not a key store');
    expect(r.stdout).not.toContain('listening');
  });
});

describe('I. crash safety', () => {
  /** The data dir of the crash test, looked at again by I4. */
  let sessionDir: string | undefined;

  it('I3 SIGKILL under concurrent load: after a restart the database passes quick_check, every acknowledged request is in the ledger exactly once, spend equals the ledger, nothing is reserved', { timeout: 120_000 }, async () => {
    const dir = newDir();
    osKeychain(dir).set(simKey);
    const N = 60;
    const [parent, ...kids] = tokensIn(dir, (s) => {
      const p = s.create({ name: 'fleet', scopes: scopesFromPreset('write'), budget: 100_000_000 }, 'test');
      return [p, ...Array.from({ length: N }, (_, i) => s.create({ name: `a${i}`, scopes: scopesFromPreset('write'), parentId: p.token.id }, 'test'))];
    });
    let d = serve(dir);
    let base = (await d.waitFor(/listening (http:\S+)\/v1/))[1]!;
    sim.faults.latencyMs = 150;
    // Streams outlast the JSON answers, so some requests are still in flight when the first third is acknowledged
    // (settlements of one turn commit together, so equal requests would all finish in the same instant).
    sim.faults.chunkDelayMs = 150;
    let acknowledged = 0;
    const outcomes = kids.map(async (k, i) => {
      try {
        const res = await fetch(`${base}/v1/chat/completions`, {
          method: 'POST',
          headers: { authorization: `Bearer ${k.secret}`, 'content-type': 'application/json' },
          body: JSON.stringify(i % 2 ? chatBody() : chatBody({ stream: true })),
        });
        const text = await res.text();
        // Acknowledged: a 200 whose body arrived whole (a JSON answer, or a stream's [DONE]).
        const ok = res.status === 200 && (i % 2 ? JSON.parse(text).object === 'chat.completion' : text.includes('data: [DONE]'));
        if (ok) acknowledged++;
        return ok;
      } catch {
        return false;
      }
    });
    await new Promise<void>((resolve) => {
      const check = () => (acknowledged >= N / 3 ? resolve() : setTimeout(check, 2));
      check();
    });
    expect(await d.stop('SIGKILL')).toBeNull();
    delete sim.faults.latencyMs;
    delete sim.faults.chunkDelayMs;
    const acked = await Promise.all(outcomes);
    expect(acked.filter(Boolean).length).toBeGreaterThanOrEqual(N / 3);
    expect(acked.filter((a) => !a).length, 'requests in flight at the kill').toBeGreaterThan(0);

    d = serve(dir);
    base = (await d.waitFor(/listening (http:\S+)\/v1/))[1]!;
    const db = openDatabase(dir, { readonly: true });
    try {
      expect(db.pragma('quick_check', { simple: true })).toBe('ok');
      expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
      const rowsOf = db.prepare('SELECT status, cost_micros FROM usage WHERE token_id = ?');
      const spendOf = db.prepare('SELECT spent_micros FROM spend WHERE token_id = ? AND period = ?').pluck();
      let total = 0;
      for (const [i, k] of kids.entries()) {
        const rows = rowsOf.all(k.token.id) as Array<{ status: number; cost_micros: number }>;
        if (acked[i]) {
          expect(rows, `acknowledged request ${i}`).toHaveLength(1);
          expect(rows[0]!.status).toBe(200);
        } else expect(rows.length, `cut request ${i}`).toBeLessThanOrEqual(1);
        const sum = rows.reduce((a, r) => a + r.cost_micros, 0);
        expect((spendOf.get(k.token.id, periodOf(Date.now())) as number | undefined) ?? 0).toBe(sum);
        total += sum;
      }
      expect(spendOf.get(parent!.token.id, periodOf(Date.now()))).toBe(total);
    } finally {
      db.close();
    }
    const balance = (await (await fetch(`${base}/v1/balance`, { headers: { authorization: `Bearer ${parent!.secret}` } })).json()) as { reserved: number };
    expect(balance.reserved).toBe(0);
    await d.stop();
    sessionDir = dir;
  });

  it('I4 files in the data dir are owner-only: after that session (database, WAL, lock, runtime file, admin secret, logs), nothing is readable by others', () => {
    expect(sessionDir).toBeDefined();
    const entries = [sessionDir!, join(sessionDir!, 'logs'), ...filesUnder(sessionDir!)];
    expect(entries.some((p) => p.endsWith('sidecar.db'))).toBe(true);
    expect(entries.some((p) => p.endsWith('.log'))).toBe(true);
    for (const p of entries) {
      const mode = statSync(p).mode & 0o777;
      expect(mode & 0o077, `${p} is ${mode.toString(8)}`).toBe(0);
    }
  });
});

describe('I. database faults (fail closed, say what to fix)', () => {
  it('I5 a corrupt database file: the daemon refuses to start, says the file is damaged and what to do, and listens nowhere', async () => {
    for (const damage of ['header', 'pages'] as const) {
      const dir = newDir();
      tokensIn(dir, (s) => [s.create({ name: 'a', scopes: scopesFromPreset('write') }, 'test')]);
      const file = join(dir, 'sidecar.db');
      const bytes = readFileSync(file);
      if (damage === 'header') bytes.fill(0x41, 0, 100);
      else for (let i = 4096; i < bytes.length; i += 5) bytes[i] = 0x5a;
      writeFileSync(file, bytes);
      const r = await runCli(['--data-dir', dir, 'serve', '--port', '0', '--upstream', sim.url]);
      expect(r.code, damage).toBe(1);
      expect(r.stderr).toContain('is damaged');
      expect(r.stderr).toContain('Restore it from a backup');
      expect(r.stdout).not.toContain('listening');
    }
  });

  it('I6 a read-only data dir: the daemon refuses to start with a message naming the directory (never runs unmetered)', async () => {
    const dir = newDir();
    tokensIn(dir, () => []);
    chmodSync(dir, 0o500);
    // As root, permissions do not bind; run the daemon as nobody then (the data dir is nobody's, read-only).
    const asRoot = process.getuid?.() === 0;
    if (asRoot) chownSync(dir, 65534, 65534);
    const r = await new Promise<{ code: number | null; out: string }>((resolve) => {
      const child = spawn(process.execPath, [CLI, '--data-dir', dir, 'serve', '--port', '0', '--upstream', sim.url], {
        ...(asRoot ? { uid: 65534, gid: 65534 } : {}),
        env: { ...process.env, HOME: dir },
      });
      let out = '';
      child.stdout.on('data', (b: Buffer) => (out += b));
      child.stderr.on('data', (b: Buffer) => (out += b));
      child.on('close', (code) => resolve({ code, out }));
    });
    chmodSync(dir, 0o700);
    expect(r.code).toBe(1);
    expect(r.out).toContain(`cannot write ${dir}`);
    expect(r.out).not.toContain('listening');
  });

  it('I7 a second daemon on the same data dir: refused with a message naming the first one\'s pid; the first keeps serving', async () => {
    const dir = newDir();
    const first = serve(dir);
    const base = (await first.waitFor(/listening (http:\S+)\/v1/))[1]!;
    const second = await runCli(['--data-dir', dir, 'serve', '--port', '0', '--upstream', sim.url]);
    expect(second.code).toBe(1);
    expect(second.stderr).toContain('another sidecar daemon is already serving');
    expect(second.stderr).toContain(`pid ${first.child.pid}`);
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    await first.stop();
  });

  it('I8 a full disk: agents get 503 storage_full and nothing is forwarded unmetered; the held row is written once space returns', async () => {
    const s = await startStack();
    try {
      const t = s.token({ preset: 'write', budgetUsd: 1 });
      const call = () => fetch(`${s.baseURL}/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${t.secret}`, 'content-type': 'application/json' }, body: JSON.stringify(chatBody()) });
      expect((await call()).status).toBe(200);
      // The disk fills up: SQLite may not grow the file by one more page.
      const pages = s.daemon.db.pragma('page_count', { simple: true }) as number;
      s.daemon.db.pragma(`max_page_count = ${pages}`);
      // Fill the pages the ledger writes to (rows from big to minimal, so no gap is left a real row could use).
      const filler = s.daemon.db.prepare(
        "INSERT INTO usage (ts, request_id, token_id, method, route, status, latency_ms) VALUES (?, '', 'tok_filler000000000000', 'POST', ?, 200, 0)",
      );
      for (const size of [2000, 200, 20, 0]) {
        try {
          for (;;) filler.run(Date.now(), 'x'.repeat(size));
        } catch (err) {
          expect((err as { code: string }).code).toBe('SQLITE_FULL');
        }
      }
      // The request in flight when the disk fills is answered, and its row is held; the next ones are refused.
      const held = await call();
      expect(held.status).toBe(200);
      s.sim.clearRequests();
      for (let i = 0; i < 3; i++) {
        const res = await call();
        expect(res.status).toBe(503);
        const e = (await res.json()) as { error: { code: string; message: string } };
        expect(e.error.code).toBe('storage_full');
        expect(e.error.message).toContain('disk');
      }
      expect(s.sim.requests).toHaveLength(0);
      // Space returns: the held row is written, then the new request; nothing lost.
      s.daemon.db.prepare("DELETE FROM usage WHERE token_id = 'tok_filler000000000000'").run();
      s.daemon.db.pragma('max_page_count = 1073741823');
      expect((await call()).status).toBe(200);
      const rows = s.daemon.db.prepare('SELECT status FROM usage WHERE token_id = ? AND status = 200').all(t.token.id);
      expect(rows).toHaveLength(3);
      expect(s.daemon.deps.budgets.reservedFor(t.token.id)).toBe(0);
    } finally {
      await s.close();
    }
  });
});
