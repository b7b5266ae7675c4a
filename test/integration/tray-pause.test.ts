/**
 * "Pause all agents": the tray's kill switch against the real daemon, real
 * SQLite and the real keychain. Paused, every agent call gets 503
 * `sidecar_paused`; the pause survives a daemon restart on the same data
 * dir; resuming (from another connection, as an attached tray or the CLI
 * would) lets agents through again.
 */
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backendFor, type Backend } from '../../main/logic/backend.js';
import { menuModel } from '../../main/logic/menu.js';
import { INITIAL_STATE } from '../../main/logic/state.js';
import { usdToMicros } from '../../proxy/core/money.js';
import { listAudit } from '../../proxy/db/records.js';
import { osKeychain, type KeyStore } from '../../proxy/keychain/store.js';
import { startDaemon, type Daemon } from '../../proxy/server/daemon.js';
import { readRuntime } from '../../proxy/server/lock.js';
import { startSimulator, type Simulator } from '../../proxy/simulator/index.js';
import { randomBase62 } from '../../proxy/tokens/format.js';
import { scopesFromPreset } from '../../proxy/tokens/scopes.js';
import { TokenStore } from '../../proxy/tokens/store.js';
import { errorOf, tempDir } from '../helpers/stack.js';

let sim: Simulator;
let dataDir: string;
let keyStore: KeyStore;
let secret: string;
const open: Array<{ close(): Promise<void> }> = [];

beforeAll(async () => {
  const simKey = `sk-test-${randomBase62(32)}`;
  sim = await startSimulator({ apiKey: simKey, balanceUsd: 1000 });
  dataDir = tempDir('sbs-tray-pause-');
  keyStore = osKeychain(dataDir);
  keyStore.set(simKey);
});

afterAll(async () => {
  for (const o of open.reverse()) await o.close().catch(() => {});
  await sim?.close();
  try {
    keyStore?.remove();
  } catch {
    /* already gone */
  }
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

async function start(): Promise<Daemon> {
  const d = await startDaemon({ dataDir, port: 0, upstreamUrl: sim.url, keyStore, syncIntervalMs: 0, watchIntervalMs: 50 });
  open.push(d);
  return d;
}

function chat(d: Daemon): Promise<Response> {
  return fetch(`${d.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'are you there?' }], max_tokens: 8 }),
  });
}

/** Waits until the daemon reports the wanted pause state (its Watcher applies writes from other connections). */
async function untilPaused(d: Daemon, paused: boolean): Promise<void> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const health = (await (await fetch(`${d.url}/healthz`)).json()) as { paused: boolean };
    if (health.paused === paused) return;
    if (Date.now() > deadline) throw new Error(`the daemon still reports paused=${health.paused}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('pause all agents', () => {
  it('answers every agent call with 503 sidecar_paused, and the pause survives a restart', async () => {
    const first = await start();
    secret = new TokenStore(first.db, Date.now).create({ name: 'worker', scopes: scopesFromPreset('write'), budget: usdToMicros(5) }, 'test').secret;
    expect((await chat(first)).status).toBe(200);

    // The tray does what its menu item does: through its own connection, like any other client of the data dir.
    const tray: Backend = backendFor({ kind: 'owned', daemon: first }, dataDir);
    expect(tray.setPaused(true, Date.now())).toBe(true);
    expect(tray.setPaused(true, Date.now())).toBe(false);
    await untilPaused(first, true);

    const refused = await chat(first);
    expect(refused.headers.get('retry-after')).toBe('60');
    const err = await errorOf(refused);
    expect(err).toMatchObject({ status: 503, code: 'sidecar_paused' });
    expect(err.message).toMatch(/paused all agents/);
    expect(sim.requests.filter((r) => r.path.endsWith('/chat/completions'))).toHaveLength(1);

    // What the tray shows for it.
    const shown = menuModel({ ...INITIAL_STATE, ...tray.read(Date.now()), phase: 'running', url: first.url });
    expect(shown.find((i) => i.id === 'status')?.label).toBe('Paused: agents get 503');
    expect(shown.find((i) => i.id === 'pause')).toMatchObject({ label: 'Resume all agents', action: 'resume', enabled: true });

    await tray.close(); // closes the in-process daemon too, as Quit does
    expect(readRuntime(dataDir)).toBeNull();

    // A fresh daemon on the same data dir is paused from its first request: nothing to wait for.
    const second = await start();
    const again = await errorOf(await chat(second));
    expect(again).toMatchObject({ status: 503, code: 'sidecar_paused' });

    // Resumed from another connection (an attached tray, the CLI): agents get through again.
    const attached = backendFor({ kind: 'attached', url: second.url, runtime: readRuntime(dataDir)! }, dataDir);
    open.push(attached);
    expect(attached.paused()).toBe(true);
    expect(attached.setPaused(false, Date.now())).toBe(true);
    await untilPaused(second, false);
    const ok = await chat(second);
    expect(ok.status).toBe(200);
    expect(((await ok.json()) as { choices: Array<{ message: { content: string } }> }).choices[0]!.message.content).toMatch(/^Echo:/);

    const trail = listAudit(second.db)
      .filter((a) => a.event.startsWith('agents.'))
      .map((a) => `${a.actor} ${a.event}`)
      .reverse();
    expect(trail).toEqual(['tray agents.pause', 'tray agents.resume']);
  });
});
