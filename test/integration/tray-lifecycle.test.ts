/**
 * What the tray does at start, against real processes and sockets: a
 * headless `skillboss-sidecar serve` already on the data dir → attach to it
 * over HTTP (and sign the window in, pause, show its state through it); our
 * port held by another program → offer a free one; the lock held by a
 * process that does not answer → say so; a headless daemon winning the race
 * between plan and start → attach instead of failing.
 */
import { rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { backendFor } from '../../main/logic/backend.js';
import { planStart, portFree, probeDaemon, startOrAttach, type StartIO } from '../../main/logic/lifecycle.js';
import { loginLink } from '../../main/logic/login.js';
import { osKeychain, type KeyStore } from '../../proxy/keychain/store.js';
import { startDaemon, type Daemon } from '../../proxy/server/daemon.js';
import { acquireLock, isLocked } from '../../proxy/server/lock.js';
import { startSimulator, type Simulator } from '../../proxy/simulator/index.js';
import { randomBase62 } from '../../proxy/tokens/format.js';
import { scopesFromPreset } from '../../proxy/tokens/scopes.js';
import { TokenStore } from '../../proxy/tokens/store.js';
import { startCli, type Background } from '../helpers/cli.js';
import { claimSession } from '../helpers/session.js';
import { errorOf, tempDir } from '../helpers/stack.js';

const HOST = '127.0.0.1';
let sim: Simulator;
let simKey: string;
const cleanup: Array<() => unknown> = [];

beforeAll(async () => {
  simKey = `sk-test-${randomBase62(32)}`;
  sim = await startSimulator({ apiKey: simKey, balanceUsd: 1000 });
});
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});
afterAll(async () => {
  await sim?.close();
});

/** A temp data dir with the simulator key in the real keychain, removed after the test. */
function dataDirWithKey(): { dataDir: string; keyStore: KeyStore } {
  const dataDir = tempDir('sbs-tray-life-');
  const keyStore = osKeychain(dataDir);
  keyStore.set(simKey);
  cleanup.push(() => {
    try {
      keyStore.remove();
    } catch {
      /* gone */
    }
    rmSync(dataDir, { recursive: true, force: true });
  });
  return { dataDir, keyStore };
}

function daemonOn(dataDir: string, keyStore: KeyStore, port: number): Promise<Daemon> {
  return startDaemon({ dataDir, port, upstreamUrl: sim.url, keyStore, syncIntervalMs: 0, watchIntervalMs: 50 });
}

const never: StartIO = {
  start: () => Promise.reject(new Error('must not start a second daemon')),
  choosePort: () => Promise.reject(new Error('must not ask for a port')),
};

describe('a headless daemon already serves the data dir', () => {
  let serve: Background;

  it('attaches to it over HTTP instead of fighting for the lock, and works through it', async () => {
    const { dataDir } = dataDirWithKey();
    serve = startCli(['--data-dir', dataDir, 'serve', '--port', '0', '--upstream', sim.url]);
    cleanup.push(() => serve.stop());
    const url = (await serve.waitFor(/listening (http:\/\/\S+)\/v1/))[1]!;

    const plan = await planStart({ dataDir, host: HOST, port: 7373 });
    expect(plan).toMatchObject({ kind: 'attach', url, runtime: { pid: serve.child.pid, url } });

    const outcome = await startOrAttach({ dataDir, host: HOST, port: 7373 }, never);
    expect(outcome.kind).toBe('attached');
    if (outcome.kind !== 'attached') return;
    const tray = backendFor(outcome, dataDir);
    cleanup.push(() => tray.close());
    expect(tray.mode).toBe('attached');
    expect(tray.url).toBe(url);
    expect(await tray.alive()).toBe(true);
    // "Check for problems" has the headless daemon re-check SkillBoss (with its own upstream URL and key).
    expect(await tray.resync()).toBe(true);
    expect(tray.read(Date.now())).toMatchObject({ upstreamKey: 'valid', credits: 'ok', reachable: true, balanceUsd: 1000 });

    // The window signs in to the headless daemon with a one-time link minted on the tray's own connection.
    const link = loginLink(tray.db, tray.url, Date.now());
    const login = await fetch(link, { redirect: 'manual' });
    expect(login.status).toBe(303);
    const cookie = login.headers.get('set-cookie')!.split(';')[0]!;
    expect(cookie).toMatch(/^sbs_admin_\d+=/);
    const key = await claimSession(url, cookie, /#sbs-claim=(\w+)$/.exec(login.headers.get('location')!)![1]!);
    const session = await fetch(`${url}/admin/api/session`, { headers: { cookie, 'x-sidecar-session': key } });
    expect(session.status).toBe(200);
    expect((await fetch(link, { redirect: 'manual' })).status).toBe(401);

    // The menu's pause switch reaches the other process's agents.
    const secret = new TokenStore(tray.db, Date.now).create({ name: 'agent', scopes: scopesFromPreset('write') }, 'test').secret;
    tray.setPaused(true, Date.now());
    const deadline = Date.now() + 5000;
    let res: Response;
    for (;;) {
      res = await fetch(`${url}/v1/models`, { headers: { authorization: `Bearer ${secret}` } });
      if (res.status !== 200 || Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(await errorOf(res)).toMatchObject({ status: 503, code: 'sidecar_paused' });
    expect(tray.read(Date.now()).paused).toBe(true);

    // When the headless daemon stops, the tray notices and the next plan is to serve the data dir itself.
    await serve.stop();
    expect(await tray.alive()).toBe(false);
    expect(isLocked(dataDir)).toBe(false);
    expect((await planStart({ dataDir, host: HOST, port: 0 })).kind).toBe('start');
  });
});

describe('our port is taken by another program', () => {
  async function holdPort(): Promise<{ server: Server; port: number }> {
    const server = createServer((s) => s.end('not a sidecar\n'));
    await new Promise<void>((r) => server.listen(0, HOST, r));
    cleanup.push(() => new Promise((r) => server.close(r)));
    return { server, port: (server.address() as { port: number }).port };
  }

  it('says so and offers a free port, then serves there when the human accepts', async () => {
    const { dataDir, keyStore } = dataDirWithKey();
    const { port } = await holdPort();
    const plan = await planStart({ dataDir, host: HOST, port });
    expect(plan.kind).toBe('port-taken');
    if (plan.kind !== 'port-taken') return;
    expect(plan.port).toBe(port);
    expect(plan.suggestion).not.toBe(port);
    expect(await portFree(plan.suggestion!, HOST)).toBe(true);

    const offers: Array<{ port: number; suggestion: number | null }> = [];
    const outcome = await startOrAttach(
      { dataDir, host: HOST, port },
      { start: (p) => daemonOn(dataDir, keyStore, p), choosePort: async (o) => (offers.push(o), o.suggestion) },
    );
    expect(outcome.kind).toBe('owned');
    if (outcome.kind !== 'owned') return;
    cleanup.push(() => outcome.daemon.close());
    expect(offers).toHaveLength(1);
    expect(offers[0]!.port).toBe(port);
    expect(outcome.daemon.port).toBe(offers[0]!.suggestion);
    expect(await probeDaemon(outcome.daemon.url)).toBe(true);
  });

  it('starts nothing when the human declines', async () => {
    const { dataDir } = dataDirWithKey();
    const { port } = await holdPort();
    const outcome = await startOrAttach({ dataDir, host: HOST, port }, { ...never, choosePort: async () => null });
    expect(outcome).toEqual({ kind: 'declined', port });
    expect(isLocked(dataDir)).toBe(false);
  });
});

describe('odd starts', () => {
  it('reports a lock held by something that does not answer, instead of hanging or attaching', async () => {
    const { dataDir } = dataDirWithKey();
    const lock = acquireLock(dataDir); // held, but no daemon.json and no server
    cleanup.push(() => lock.release());
    const outcome = await startOrAttach({ dataDir, host: HOST, port: 0, waitMs: 300 }, never);
    expect(outcome.kind).toBe('failed');
    if (outcome.kind === 'failed') expect(outcome.message).toMatch(/holds .* but does not answer/);
  });

  it('attaches when a headless daemon takes the data dir between the plan and the start', async () => {
    const { dataDir, keyStore } = dataDirWithKey();
    let rival: Daemon | undefined;
    const outcome = await startOrAttach(
      { dataDir, host: HOST, port: 0 },
      {
        start: async (port) => {
          rival ??= await daemonOn(dataDir, keyStore, 0); // wins the lock first
          return daemonOn(dataDir, keyStore, port);
        },
        choosePort: never.choosePort,
      },
    );
    cleanup.push(() => rival?.close());
    expect(outcome).toMatchObject({ kind: 'attached', url: rival!.url });
  });
});
