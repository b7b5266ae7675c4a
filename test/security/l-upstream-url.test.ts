/**
 * Issue 17 item 3: whoever holds the admin API (a stolen dashboard session, a
 * leaked admin secret) must not point the upstream at a plain-http listener
 * and collect the real key from the next agent call. At run time only https;
 * plain http only when the daemon starts. A change is audited and reaches
 * the tray's notification rules, whoever made it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Feed } from '../../main/logic/feed.js';
import { NotifyRules } from '../../main/logic/notify-rules.js';
import { setSetting } from '../../proxy/db/records.js';
import { memoryKeyStore } from '../../proxy/keychain/store.js';
import { startDaemon } from '../../proxy/server/daemon.js';
import { startStack, tempDir, type Stack } from '../helpers/stack.js';
import { adminSecret, call, chatBody, sessionAuth, startRawUpstream, startTrap, type RawUpstream } from './kit.js';

let s: Stack;
let thief: RawUpstream;
let agent: string;

beforeAll(async () => {
  s = await startStack();
  thief = await startRawUpstream();
  agent = s.token({ preset: 'write' }).secret;
});
afterAll(async () => {
  await thief?.close();
  await s?.close();
});

const patch = (body: unknown) =>
  fetch(`${s.daemon.url}/admin/api/settings`, { method: 'PATCH', headers: { authorization: `Bearer ${adminSecret(s)}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });

describe('L. the upstream URL at run time (issue 17 item 3)', () => {
  it('L1 LiteLLM api_base, via the admin API: a plain-http upstream is refused at run time, and the next agent call carries the key to SkillBoss only', async () => {
    const r = await patch({ upstream_url: thief.url });
    expect(r.status).toBe(400);
    const e = (await r.json()) as { error: { details: Record<string, string> } };
    expect(e.error.details.upstream_url).toContain('https');
    expect(s.daemon.deps.upstream().baseUrl).toBe(s.sim.url);

    const chat = await call(s, agent, 'POST', '/v1/chat/completions', chatBody());
    expect(chat.status).toBe(200);
    await chat.text();
    expect(thief.captured).toHaveLength(0);
    expect(JSON.stringify(thief.captured)).not.toContain(s.simKey);
    const rows = s.daemon.db.prepare("SELECT count(*) FROM settings WHERE key = 'upstream_url'").pluck().get();
    expect(rows).toBe(0);
  });

  it('L2 an https upstream can be set; the change is audited with both URLs and the tray announces it even though "admin" made it', async () => {
    const trap = await startTrap();
    const feed = new Feed(s.daemon.db);
    try {
      const to = `https://127.0.0.1:${trap.port}/v1`;
      const r = await patch({ upstream_url: to });
      expect(r.status).toBe(200);
      const row = s.daemon.db.prepare("SELECT actor, detail FROM audit WHERE event = 'upstream.url_changed'").get() as { actor: string; detail: string };
      expect(row.actor).toBe('admin');
      expect(JSON.parse(row.detail)).toMatchObject({ from: s.sim.url, to });

      const notices = new NotifyRules().evaluate(feed.read(s.clock.now), s.clock.now);
      expect(notices).toContainEqual(expect.objectContaining({ kind: 'upstream_changed', title: 'SkillBoss upstream changed' }));
      // And once https is in use, going back to plain http is a start-time choice too.
      expect((await patch({ upstream_url: s.sim.url })).status).toBe(400);
    } finally {
      s.daemon.setUpstreamUrl(s.sim.url);
      await trap.close();
    }
  });

  it('L3 a plain-http upstream saved in the database (before this rule) does not survive a restart: the one given at start wins', async () => {
    const dataDir = tempDir();
    const first = await startDaemon({ dataDir, port: 0, upstreamUrl: s.sim.url, keyStore: memoryKeyStore(s.simKey), syncIntervalMs: 0 });
    setSetting(first.db, 'upstream_url', thief.url);
    await first.close();
    const second = await startDaemon({ dataDir, port: 0, upstreamUrl: s.sim.url, keyStore: memoryKeyStore(s.simKey), syncIntervalMs: 0 });
    try {
      expect(second.deps.upstream().baseUrl).toBe(s.sim.url);
    } finally {
      await second.close();
    }
  });

  it('L4 a dashboard session alone cannot move the key (upstream_url, control_plane_url): 403 naming the admin secret; with the secret beside it, changed (issue 25 item 10)', async () => {
    const trap = await startTrap();
    const session = await sessionAuth(s);
    const origin = s.daemon.url;
    const send = (body: unknown, extra: Record<string, string> = {}) =>
      fetch(`${s.daemon.url}/admin/api/settings`, { method: 'PATCH', headers: { ...session, origin, 'content-type': 'application/json', ...extra }, body: JSON.stringify(body) });
    try {
      const to = `https://127.0.0.1:${trap.port}/v1`;
      for (const body of [{ upstream_url: to }, { control_plane_url: 'https://cp.example.com' }, { upstream_url: to, default_max_tokens: 1000 }]) {
        const r = await send(body);
        expect(r.status).toBe(403);
        const e = (await r.json()) as { error: { code: string; message: string; details: Record<string, string> } };
        expect(e.error.code).toBe('admin_secret_required');
        expect(e.error.message).toContain('admin secret');
        expect(e.error.message).toContain('x-sidecar-admin-secret');
        expect(Object.keys(e.error.details)).toEqual(Object.keys(body).filter((k) => k !== 'default_max_tokens'));
      }
      expect(s.daemon.deps.upstream().baseUrl).toBe(s.sim.url);
      expect(String(s.daemon.db.prepare("SELECT value FROM settings WHERE key = 'upstream_url'").pluck().get())).not.toContain(String(trap.port));
      expect(s.daemon.db.prepare("SELECT count(*) FROM settings WHERE key = 'control_plane_url'").pluck().get()).toBe(0);
      expect(s.daemon.db.prepare("SELECT count(*) FROM audit WHERE event = 'upstream.control_plane_changed'").pluck().get()).toBe(0);
      // The same session may still save what does not move the key, the unchanged URL included.
      expect((await send({ upstream_url: s.sim.url, default_max_tokens: 4096 })).status).toBe(200);
      // A wrong secret beside the session: refused, and the session stays signed in.
      const wrong = await send({ upstream_url: to }, { 'x-sidecar-admin-secret': 'sk-sba-' + 'x'.repeat(43) });
      expect(wrong.status).toBe(403);
      expect(((await wrong.json()) as { error: { code: string } }).error.code).toBe('invalid_admin_secret');
      expect((await fetch(`${s.daemon.url}/admin/api/session`, { headers: session })).status).toBe(200);
      // With the fresh proof: changed.
      const ok = await send({ upstream_url: to }, { 'x-sidecar-admin-secret': adminSecret(s) });
      expect(ok.status).toBe(200);
      expect(s.daemon.deps.upstream().baseUrl).toBe(to);
    } finally {
      s.daemon.setUpstreamUrl(s.sim.url);
      await trap.close();
    }
  });
});
