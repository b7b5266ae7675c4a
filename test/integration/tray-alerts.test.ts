/**
 * The tray's alerts from real traffic: budget crossings written by the budget
 * stage, an agent rotating its own key, a token near expiry and an upstream
 * that rejects the key all reach the notification loop through the shared
 * database — once each, also across an app restart. And "Check for
 * problems" against the same real pieces.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Alerts } from '../../main/logic/alerts.js';
import { backendFor } from '../../main/logic/backend.js';
import { runChecks, summarize } from '../../main/logic/doctor.js';
import type { Notice } from '../../main/logic/notify-rules.js';
import { JsonFile, TrayMemory } from '../../main/logic/prefs.js';
import { DAY_MS } from '../../proxy/core/time.js';
import { openDatabase, type DB } from '../../proxy/db/database.js';
import { bumpGeneration, getSetting } from '../../proxy/db/records.js';
import { maskKey } from '../../proxy/keychain/store.js';
import { startStack, tempDir, type Stack } from '../helpers/stack.js';

let s: Stack;
let trayDb: DB;
let memoryDir: string;
let memory: JsonFile<typeof TrayMemory>;

beforeAll(async () => {
  s = await startStack();
  // The tray reads through a connection of its own, as in the app.
  trayDb = openDatabase(s.dataDir);
  memoryDir = tempDir('sbs-tray-mem-');
  memory = new JsonFile(join(memoryDir, 'tray-state.json'), TrayMemory);
});
afterAll(async () => {
  trayDb?.close();
  await s?.close();
  if (memoryDir) rmSync(memoryDir, { recursive: true, force: true });
});

/** A chat call whose reply is cut at max_tokens, so its cost equals its worst-case reservation. */
async function call(secret: string): Promise<Response> {
  return fetch(`${s.baseURL}/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'claude-4-5-sonnet', messages: [{ role: 'user', content: 'one two three four five six seven eight nine ten' }], max_tokens: 4 }),
  });
}

function costOf(tokenId: string): number {
  return (s.daemon.db.prepare('SELECT SUM(cost_micros) FROM usage WHERE token_id = ?').pluck().get(tokenId) as number) ?? 0;
}

async function until<T>(what: string, fn: () => T | undefined): Promise<T> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const v = fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const brief = (ns: Notice[]) => ns.map((n) => `${n.kind}: ${n.title}`);

describe('alerts from real traffic', () => {
  let alerts: Alerts;

  it('start quiet: history from before the first run is not news', () => {
    alerts = new Alerts(trayDb, memory);
    expect(alerts.poll(s.clock.now)).toEqual([]);
  });

  it('budget at 80% and at 100%, once per token per period', async () => {
    const probe = s.token({ name: 'probe' });
    expect((await call(probe.secret)).status).toBe(200);
    const c = costOf(probe.token.id);
    expect(c).toBeGreaterThan(0);

    const eighty = s.token({ name: 'eighty', budgetMicros: Math.round(c * 1.2) });
    const full = s.token({ name: 'full', budgetMicros: c });
    expect((await call(eighty.secret)).status).toBe(200);
    expect((await call(full.secret)).status).toBe(200);

    const notices = alerts.poll(s.clock.now);
    expect(brief(notices)).toEqual(['budget_80: Budget at 80%: “eighty”', 'budget_100: Budget used up: “full”']);
    expect(notices[1]!.target).toBe('tokens');
    expect(alerts.poll(s.clock.now)).toEqual([]);

    // Over budget now: refused before upstream, and no second alert.
    expect((await call(full.secret)).status).toBe(402);
    expect(alerts.poll(s.clock.now)).toEqual([]);
  });

  it('an agent rotating its own key is news; the human rotating one is not', async () => {
    const agent = s.token({ name: 'rotator' });
    const res = await fetch(`${s.baseURL}/api-keys/rotate`, { method: 'POST', headers: { authorization: `Bearer ${agent.secret}`, 'content-type': 'application/json' }, body: '{}' });
    expect(res.status).toBe(200);
    s.tokens.rotate(s.token({ name: 'by-hand' }).token.id, DAY_MS, 'cli');
    expect(brief(alerts.poll(s.clock.now))).toEqual(['rotation: Key rotated']);
  });

  it('a token about to expire: the tightest warning, once', () => {
    s.token({ name: 'short-lived', expires: new Date(s.clock.now + 2 * DAY_MS + 3_600_000).toISOString() });
    expect(brief(alerts.poll(s.clock.now))).toEqual(['expiry: Token expires in 3 days: “short-lived”']);
    expect(alerts.poll(s.clock.now)).toEqual([]);
    expect(brief(alerts.poll(s.clock.now + 1.5 * DAY_MS))).toEqual(['expiry: Token expires within a day: “short-lived”']);
  });

  it('the upstream rejecting the key, once until it is fixed', async () => {
    s.keyStore.set('sk-wrong-key-000000000000000000');
    bumpGeneration(trayDb, 'key'); // what `key set` does: the daemon reloads the key and syncs
    await until('the daemon to find the key invalid', () => (getSetting<{ key: string }>(trayDb, 'upstream_status')?.key === 'invalid' ? true : undefined));
    expect(brief(alerts.poll(s.clock.now))).toEqual(['key_invalid: SkillBoss key rejected']);
    expect(alerts.poll(s.clock.now)).toEqual([]);

    s.keyStore.set(s.simKey);
    bumpGeneration(trayDb, 'key');
    await until('the key to be valid again', () => (getSetting<{ key: string }>(trayDb, 'upstream_status')?.key === 'valid' ? true : undefined));
    expect(alerts.poll(s.clock.now)).toEqual([]);
  });

  it('after a restart of the app, nothing repeats, and what happened meanwhile still arrives', async () => {
    const restarted = new Alerts(trayDb, memory);
    expect(restarted.poll(s.clock.now + 1.5 * DAY_MS)).toEqual([]);
    const late = s.token({ name: 'late', budgetMicros: Math.round(costOf(s.tokens.list().find((t) => t.name === 'probe')!.id) * 1.2) });
    expect((await call(late.secret)).status).toBe(200);
    expect(brief(new Alerts(trayDb, memory).poll(s.clock.now))).toEqual(['budget_80: Budget at 80%: “late”']);
  });
});

describe('check for problems', () => {
  it('finds nothing wrong with a healthy sidecar, and names a pause and a rejected key', async () => {
    const tray = backendFor({ kind: 'owned', daemon: s.daemon }, s.dataDir);
    const deps = () => ({ url: s.daemon.url, dataDir: s.dataDir, db: tray.db, keyStore: s.keyStore, now: s.clock.now, resync: () => tray.resync() });
    try {
      const healthy = await runChecks(deps());
      expect(healthy.map((c) => [c.name, c.ok])).toEqual([
        ['daemon', true],
        ['data dir', true],
        ['key', true],
        ['SkillBoss', true],
      ]);
      expect(summarize(healthy)).toMatchObject({ ok: true, title: 'No problems found' });
      expect(summarize(healthy).detail).not.toContain(s.simKey);

      tray.setPaused(true, s.clock.now);
      s.keyStore.set('sk-wrong-key-000000000000000000');
      bumpGeneration(tray.db, 'key');
      const wrong = s.daemon.deps.key.status();
      await until('the daemon to load the new key', () => {
        const now = s.daemon.deps.key.status();
        return now.state === 'set' && now.masked === maskKey('sk-wrong-key-000000000000000000') ? true : undefined;
      });
      expect(wrong).not.toEqual(s.daemon.deps.key.status());
      const sick = await runChecks(deps());
      expect(sick.filter((c) => !c.ok).map((c) => c.name)).toEqual(['SkillBoss', 'agents']);
      expect(sick.find((c) => c.name === 'SkillBoss')!.detail).toMatch(/rejected the key/);
      expect(summarize(sick).title).toBe('2 problems found');
      expect(summarize(sick).detail).toContain('✗ agents: all agents are paused');
      expect(summarize(sick).detail).not.toContain('sk-wrong-key-000000000000000000');
    } finally {
      s.keyStore.set(s.simKey);
      bumpGeneration(tray.db, 'key');
      tray.setPaused(false, s.clock.now);
      tray.db.close(); // not tray.close(): the stack owns the daemon
    }
  });
});
