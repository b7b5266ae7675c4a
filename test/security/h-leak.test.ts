/**
 * Group H: secrets that never leak. LiteLLM leaked keys through log lines,
 * tracebacks, an expired key echoed in an error body and audit-log fields;
 * here a full session runs against the real CLI daemon (debug logging, log
 * file on): traffic, upstream errors that echo the real key, token and key
 * rotations, a webhook, a SIGKILL crash and a restart. Then every file the
 * daemon wrote (WAL and SHM included, before and after the restart),
 * everything it and the read-only CLI commands printed, every error and page
 * body, the audit rows, and /proc cmdline+environ of the daemon and its
 * children are searched for the real keys and every secret ever issued. The
 * search proves it works by finding planted markers in each kind of place.
 */
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readAdminSecret } from '../../proxy/admin/index.js';
import { openDatabase } from '../../proxy/db/database.js';
import { osKeychain } from '../../proxy/keychain/store.js';
import { startSimulator, type Simulator } from '../../proxy/simulator/index.js';
import { createLogger } from '../../proxy/core/log.js';
import { generateTokenSecret, hashToken, randomBase62 } from '../../proxy/tokens/format.js';
import { scopesFromPreset } from '../../proxy/tokens/scopes.js';
import { TokenStore } from '../../proxy/tokens/store.js';
import { runCli, startCli, type Background } from '../helpers/cli.js';
import { startStack, tempDir, type Stack } from '../helpers/stack.js';
import { startReceiver, type Receiver } from '../integration/lifecycle-helpers.js';
import { adminSecret, call, chatBody, filesUnder, findNeedles, snapshotFiles } from './kit.js';

let sim: Simulator;
let rx: Receiver;
let dataDir: string;
const daemons: Background[] = [];

beforeAll(async () => {
  sim = await startSimulator({ apiKey: `sk-test-${randomBase62(32)}`, balanceUsd: 1000 });
  rx = await startReceiver();
  dataDir = tempDir('sbs-leak-');
  osKeychain(dataDir).set(sim.adminKey());
});
afterAll(async () => {
  for (const d of daemons) await d.stop('SIGKILL');
  await sim?.close();
  await rx?.close();
  try {
    osKeychain(dataDir).remove();
  } catch {
    /* gone */
  }
  rmSync(dataDir, { recursive: true, force: true });
});

const MARKER_ENV = `leakmarker${randomBase62(24)}`;

async function serve(): Promise<{ d: Background; url: string }> {
  const d = startCli(['--data-dir', dataDir, 'serve', '--port', '0', '--upstream', sim.url], { SKILLBOSS_SIDECAR_LOG_LEVEL: 'debug', SBS_LEAK_MARKER: MARKER_ENV });
  daemons.push(d);
  const m = await d.waitFor(/listening (http:\/\/\S+)\/v1/, 30_000);
  return { d, url: m[1]! };
}

/** cmdline and environ of a process and every descendant of it, from /proc. */
function procOf(pid: number, label: string, into: Map<string, Buffer | string>): number {
  let n = 0;
  const visit = (p: number) => {
    for (const f of ['cmdline', 'environ']) {
      try {
        into.set(`${label}:/proc/${p}/${f}`, readFileSync(`/proc/${p}/${f}`));
        n++;
      } catch {
        /* exited */
      }
    }
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
        if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === p) visit(Number(entry));
      } catch {
        /* gone */
      }
    }
  };
  visit(pid);
  return n;
}

function waitUntil(cond: () => boolean | Promise<boolean>, what: string, timeoutMs = 15_000): Promise<void> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const check = async () => {
      if (await cond()) return resolve();
      if (Date.now() - started > timeoutMs) return reject(new Error(`timed out waiting for ${what}`));
      setTimeout(() => void check(), 20);
    };
    void check();
  });
}

describe('H. secret leakage', () => {
  it('H1 LiteLLM key leaks (log lines, tracebacks, echoed keys, audit fields): after a full session with a crash, no real key and no issued secret is anywhere the daemon wrote or printed', { timeout: 180_000 }, async () => {
    const secrets: string[] = [];
    const realKeys: string[] = [sim.adminKey()];
    const bodies = new Map<string, Buffer | string>(); // answers that must not carry a secret
    const procs = new Map<string, Buffer | string>();
    const printed = new Map<string, Buffer | string>();
    const files = new Map<string, Buffer | string>();

    // Tokens straight into the database, as `token create` would.
    let db = openDatabase(dataDir);
    const store = new TokenStore(db, Date.now);
    const lead = store.create({ name: 'lead', scopes: scopesFromPreset('admin'), budget: 50_000_000 }, 'test');
    const tiny = store.create({ name: 'tiny', scopes: scopesFromPreset('write'), budget: 1 }, 'test');
    const doomed = store.create({ name: 'doomed', scopes: scopesFromPreset('write') }, 'test');
    secrets.push(lead.secret, tiny.secret, doomed.secret);
    db.close();

    let { d, url } = await serve();
    const admin = readAdminSecret(dataDir);
    secrets.push(admin);
    let n = 0;
    const agent = async (secret: string, method: string, path: string, body?: unknown, keep = true): Promise<Response> => {
      const res = await fetch(`${url}${path}`, {
        method,
        headers: { authorization: `Bearer ${secret}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      const text = await res.clone().text();
      if (keep) bodies.set(`answer ${++n} ${method} ${path} ${res.status}`, `${JSON.stringify([...res.headers])}\n${text}`);
      return res;
    };
    const adminApi = async (method: string, path: string, body?: unknown, keep = true): Promise<Response> => agent(admin, method, path, body, keep);
    const chat = { model: 'gpt-4o', messages: [{ role: 'user', content: 'hello' }], max_tokens: 20 };

    procOf(d.child.pid!, 'daemon-1', procs);

    // Ordinary traffic.
    expect((await agent(lead.secret, 'POST', '/v1/chat/completions', chat)).status).toBe(200);
    expect((await agent(lead.secret, 'POST', '/v1/chat/completions', { ...chat, stream: true })).status).toBe(200);
    expect((await agent(lead.secret, 'POST', '/v1/embeddings', { model: 'text-embedding-3-small', input: 'hi' })).status).toBe(200);
    expect((await agent(lead.secret, 'GET', '/v1/models')).status).toBe(200);
    expect((await agent(lead.secret, 'GET', '/v1/balance')).status).toBe(200);

    // The WAL searched after the crash must hold everything written from here on. The daemon checkpoints every second,
    // and a writer after a complete checkpoint starts the WAL over, overwriting its frames, so whether the frames that
    // name the marker token (and any secret) were still there at the crash depended on timing. A read transaction held open
    // from before the session issues its secrets keeps the WAL from starting over (no checkpoint may pass a reader's
    // snapshot, and none may reset the log while a reader is on it), so nothing written after it is overwritten.
    // Read-only: closing it after the snapshot neither checkpoints nor deletes the crashed daemon's WAL.
    const walPin = openDatabase(dataDir, { readonly: true });
    walPin.exec('BEGIN');
    walPin.prepare('SELECT count(*) FROM tokens').get();

    // Secrets issued over the session (these answers carry them once, by design, so they are not haystacks).
    const minted = (await (await agent(lead.secret, 'POST', '/v1/api-keys', { name: 'kid', scopes: ['models:read', 'models:use'], monthly_budget: 1 }, false)).json()) as { api_key: string; id: string };
    const child = (await (await agent(lead.secret, 'POST', '/v1/agents/create-child', { child_name: 'kid2', child_budget: 1, scopes: ['models:read'], expiration_days: 5 }, false)).json()) as { api_key: string };
    secrets.push(minted.api_key, child.api_key);
    const rotated = (await (await agent(minted.api_key, 'POST', '/v1/api-keys/rotate', undefined, false)).json()) as { new_api_key: string };
    secrets.push(rotated.new_api_key);
    const marked = (await (await adminApi('POST', '/admin/api/tokens', { name: 'leak-marker-token', preset: 'write' }, false)).json()) as { token: { id: string }; secret: string };
    secrets.push(marked.secret);
    const adminRotated = (await (await adminApi('POST', `/admin/api/tokens/${marked.token.id}/rotate`, {}, false)).json()) as { secret: string };
    secrets.push(adminRotated.secret);
    const auto = (await (await agent(lead.secret, 'POST', '/v1/api-keys/auto-rotate', { rotation_interval_days: 30, webhook_url: `${rx.url}/hook` }, false)).json()) as { webhook_signing_secret: string };
    secrets.push(auto.webhook_signing_secret);
    const leadNew = (await (await agent(lead.secret, 'POST', '/v1/api-keys/rotate', undefined, false)).json()) as { new_api_key: string };
    secrets.push(leadNew.new_api_key);
    await rx.waitFor(1);

    // Refusals, each with what was presented.
    await agent('sk-sbl-not-a-token', 'GET', '/v1/models');
    await agent(`sk-sbl-${randomBase62(38)}`, 'GET', '/v1/models');
    await agent(sim.adminKey(), 'GET', '/v1/models');
    await agent(admin, 'GET', '/v1/models');
    await agent(lead.secret, 'GET', '/admin/api/status');
    expect((await agent(tiny.secret, 'POST', '/v1/chat/completions', chat)).status).toBe(402);
    await adminApi('POST', `/admin/api/tokens/${(await (await adminApi('GET', '/admin/api/tokens')).json() as { data: Array<{ id: string; name: string }> }).data.find((t) => t.name === 'doomed')!.id}/revoke`, {});
    await agent(doomed.secret, 'GET', '/v1/models');

    // Upstream errors whose bodies echo the real key, in every class the daemon maps.
    for (const status of [400, 401, 402, 403, 404, 429, 500, 503]) {
      // Aimed at the chat call: a 401 makes the daemon re-run its validity probe (GET /v1/models), which must not take the next fault.
      sim.faults.failNext = { count: 1, status, path: '/v1/chat/completions', body: { error: { message: `rejected key ${sim.adminKey()} (auth: Bearer ${sim.adminKey()})`, type: 'x', code: 'x' } } };
      const res = await agent(leadNew.new_api_key, 'POST', '/v1/chat/completions', chat);
      expect(res.status, `upstream ${status}`).toBeGreaterThanOrEqual(400);
    }

    // The real key rotated at the upstream (`key rotate`), then used.
    const keyRotate = await runCli(['--data-dir', dataDir, 'key', 'rotate', '--upstream', sim.url]);
    expect(keyRotate.code, keyRotate.stderr).toBe(0);
    printed.set('cli key rotate', keyRotate.stdout + keyRotate.stderr);
    realKeys.push(sim.adminKey());
    await waitUntil(async () => {
      await agent(leadNew.new_api_key, 'GET', '/v1/models', undefined, false);
      return sim.requests.at(-1)?.headers.authorization === `Bearer ${sim.adminKey()}`;
    }, 'the daemon to use the rotated real key');

    // What the dashboard and the admin API show.
    for (const path of ['/admin/api/tokens', '/admin/api/audit?limit=1000', '/admin/api/status', '/admin/api/requests', '/admin/api/usage', '/admin/api/settings']) await adminApi('GET', path);
    const page = await (await fetch(`${url}/`)).text();
    bodies.set('dashboard /', page);
    for (const src of page.match(/\/assets\/[^"']+/g) ?? []) bodies.set(`dashboard ${src}`, await (await fetch(`${url}${src}`)).text());

    // The read-only CLI commands a human runs.
    for (const args of [['token', 'list'], ['token', 'tree'], ['status'], ['usage'], ['audit'], ['key', 'status'], ['requests', 'list']]) {
      const r = await runCli(['--data-dir', dataDir, ...args]);
      printed.set(`cli ${args.join(' ')}`, r.stdout + r.stderr);
    }

    // A crash in the middle of a stream: SIGKILL, then look at what is on disk before anything tidies it.
    sim.faults.chunkDelayMs = 20;
    const streaming = await fetch(`${url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${leadNew.new_api_key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ ...chat, stream: true, max_tokens: 400, messages: [{ role: 'user', content: Array.from({ length: 300 }, (_, i) => `w${i}`).join(' ') }] }),
    });
    const reader = streaming.body!.getReader();
    await reader.read();
    procOf(d.child.pid!, 'daemon-1b', procs);
    expect(await d.stop('SIGKILL')).toBeNull();
    await reader.read().catch(() => undefined);
    delete sim.faults.chunkDelayMs;
    printed.set('serve run 1', d.output());
    expect(existsSync(`${dataDir}/sidecar.db-wal`)).toBe(true);
    snapshotFiles(dataDir, 'after SIGKILL', files);
    walPin.exec('COMMIT');
    walPin.close();

    // Restart, use the rotated secrets, stop cleanly.
    ({ d, url } = await serve());
    procOf(d.child.pid!, 'daemon-2', procs);
    expect((await agent(rotated.new_api_key, 'POST', '/v1/chat/completions', chat)).status).toBe(200);
    expect((await agent(leadNew.new_api_key, 'GET', '/v1/balance')).status).toBe(200);
    await agent(lead.secret, 'GET', '/v1/models'); // still in its grace period
    expect(await d.stop('SIGTERM')).toBe(0);
    printed.set('serve run 2', d.output());
    snapshotFiles(dataDir, 'after restart', files);

    db = openDatabase(dataDir, { readonly: true });
    const auditRows = JSON.stringify(db.prepare('SELECT * FROM audit').all());
    db.close();

    // The search works: planted non-secret markers are found in each kind of haystack.
    const logFiles = new Map([...files].filter(([k]) => k.includes('/logs/')));
    expect(logFiles.size).toBeGreaterThan(0);
    expect(findNeedles(logFiles, [lead.token.id]).length, 'the token id in the log files').toBeGreaterThan(0);
    const dbFiles = new Map([...files].filter(([k]) => /sidecar\.db(-wal)?$/.test(k)));
    expect(findNeedles(dbFiles, ['leak-marker-token']).length, 'a token name in the database files').toBeGreaterThan(0);
    expect(findNeedles(new Map([...files].filter(([k]) => k.startsWith('after SIGKILL') && k.endsWith('-wal'))), ['leak-marker-token']).length, 'the WAL').toBeGreaterThan(0);
    expect(findNeedles(printed, [lead.token.id]).length, 'the token id in what was printed').toBeGreaterThan(0);
    expect(findNeedles(procs, [MARKER_ENV]).length, 'the marker env var in /proc/<pid>/environ').toBeGreaterThan(0);
    expect(findNeedles(bodies, [lead.token.id]).length, 'a token id in an error body').toBeGreaterThan(0);
    expect(findNeedles(new Map([['audit', auditRows]]), [marked.token.id]).length).toBeGreaterThan(0);

    // Now the real search.
    const needles = [...realKeys, ...secrets];
    expect(new Set(needles).size).toBe(needles.length);
    expect(needles.length).toBeGreaterThanOrEqual(13);
    const everywhere = new Map<string, Buffer | string>([...files, ...printed, ...procs, ...bodies, ['audit rows', auditRows]]);
    const findings = findNeedles(everywhere, needles).filter(
      // The admin secret lives in its own owner-only file by design (it is how scripts authenticate).
      (f) => !(f.needle === admin && f.where.endsWith('/admin-secret')),
    );
    expect(findings.map((f) => `${f.where} has ${f.needle.slice(0, 10)}…`)).toEqual([]);
    expect(everywhere.size).toBeGreaterThan(40);
    expect(filesUnder(dataDir).length).toBeGreaterThan(3);
  });
});

describe('H. echoes and second looks', () => {
  let s: Stack;
  beforeAll(async () => {
    s = await startStack();
  });
  afterAll(async () => {
    await s?.close();
  });

  it.each([400, 403, 404, 422, 429, 500, 502, 503])('H2 LiteLLM key echoed in an error body: an upstream %i whose body quotes the real key reaches the agent with the key masked', async (status) => {
    const { secret } = s.token();
    s.sim.faults.failNext = { count: 1, status, body: { error: { message: `key ${s.simKey} is not allowed`, type: 'x', code: 'x' } } };
    const res = await call(s, secret, 'POST', '/v1/chat/completions', chatBody());
    const text = await res.text();
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(text).not.toContain(s.simKey);
    expect(text).not.toContain(s.simKey.slice(8, 28));
    // The upstream's words did come through (so the test would see an unscrubbed echo), with the key masked.
    expect(text).toContain(`sk-…${s.simKey.slice(-4)}`);
  });

  it('H3 new secrets are shown once: afterwards no admin view, agent answer or database row holds one, only its SHA-256', async () => {
    const admin = adminSecret(s);
    const created = (await (await fetch(`${s.daemon.url}/admin/api/tokens`, {
      method: 'POST',
      headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'shown-once', preset: 'admin' }),
    })).json()) as { token: { id: string }; secret: string };
    const views = await Promise.all(
      ['/admin/api/tokens', `/admin/api/tokens/${created.token.id}`, '/admin/api/tokens/tree', '/admin/api/audit?limit=1000', '/admin/api/status'].map(async (p) =>
        (await fetch(`${s.daemon.url}${p}`, { headers: { authorization: `Bearer ${admin}` } })).text(),
      ),
    );
    views.push(await (await call(s, created.secret, 'GET', '/v1/balance')).text());
    for (const v of views) expect(v).not.toContain(created.secret);
    const rows = JSON.stringify(['tokens', 'token_secrets', 'audit', 'settings'].map((t) => s.daemon.db.prepare(`SELECT * FROM ${t}`).all()));
    expect(rows).not.toContain(created.secret);
    expect(rows).toContain(hashToken(created.secret));
  });

  it('H4 logs redact by allowlist: at debug level, unknown fields, headers and bodies are never written, and key-shaped strings are masked', () => {
    const lines: string[] = [];
    const log = createLogger({ level: 'debug', destination: new Writable({ write: (c: Buffer, _e, cb) => (lines.push(c.toString()), cb()) }) as unknown as NodeJS.WritableStream });
    const token = generateTokenSecret();
    log.debug({ headers: { authorization: `Bearer ${token}` }, body: { api_key: s.simKey }, tokenId: 'tok_visible', reason: `upstream said ${s.simKey}` }, `request with ${token}`);
    log.error({ err: new Error(`failed for ${s.simKey}`) }, 'boom');
    const out = lines.join('');
    expect(out).toContain('tok_visible');
    expect(out).toContain('[redacted]');
    for (const secret of [token, s.simKey]) {
      expect(out).not.toContain(secret);
      expect(out).not.toContain(secret.slice(10, 30));
    }
  });
});
