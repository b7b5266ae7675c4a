/**
 * Runs the daemon for the app: in this process (the same startDaemon as
 * `skillboss-sidecar serve`, same data dir and keychain entry), or attached
 * to a headless one already serving the data dir. Keeps the AppState fresh,
 * and takes over when an attached headless daemon goes away.
 */
import { app, dialog } from 'electron';
import { DEFAULT_HOST, DEFAULT_PORT, resolveUpstream } from '../proxy/core/config.js';
import { logRequests } from '../proxy/core/log.js';
import { startDaemon } from '../proxy/server/daemon.js';
import type { AppContext } from './context.js';
import { backendFor } from './logic/backend.js';
import { startOrAttach } from './logic/lifecycle.js';

const TICK_MS = 1000;
/** How often (in ticks) an attached headless daemon is checked for still being there. */
const ALIVE_EVERY = 5;

async function askForPort(offer: { port: number; suggestion: number | null }): Promise<number | null> {
  const other = offer.suggestion;
  const { response } = await dialog.showMessageBox({
    type: 'warning',
    title: 'SkillBoss Sidecar',
    message: `Port ${offer.port} is used by another program`,
    detail:
      other === null
        ? 'No free port was found nearby. Stop the other program and open the app again.'
        : `The sidecar can listen on port ${other} instead. Agents must then use http://127.0.0.1:${other}/v1 as their base URL.`,
    buttons: other === null ? ['Quit'] : [`Use port ${other}`, 'Quit'],
    defaultId: 0,
    cancelId: other === null ? 0 : 1,
  });
  return other !== null && response === 0 ? other : null;
}

async function connect(ctx: AppContext): Promise<void> {
  ctx.store.update({ phase: 'starting', failure: null, url: null });
  const wanted = ctx.prefs.read().port ?? DEFAULT_PORT;
  const outcome = await startOrAttach(
    { dataDir: ctx.dataDir, host: DEFAULT_HOST, port: wanted },
    {
      start: async (port) => {
        const daemon = await startDaemon({ dataDir: ctx.dataDir, port, upstreamUrl: resolveUpstream(), log: ctx.log });
        // As `serve` does: one log line per agent request (ids, routes, costs; never secrets).
        const stopLogging = logRequests(daemon.events, ctx.log);
        ctx.onShutdown(stopLogging);
        return daemon;
      },
      choosePort: askForPort,
    },
  );
  if (outcome.kind === 'declined') {
    app.quit();
    return;
  }
  if (outcome.kind === 'failed') {
    ctx.log.error({ reason: outcome.message }, 'the sidecar could not start');
    ctx.store.update({ phase: 'failed', failure: outcome.message });
    void dialog.showMessageBox({ type: 'error', title: 'SkillBoss Sidecar', message: 'The sidecar could not start', detail: outcome.message, buttons: ['OK'] });
    return;
  }
  const backend = backendFor(outcome, ctx.dataDir);
  if (outcome.kind === 'owned' && outcome.daemon.port !== wanted) ctx.prefs.update((p) => ({ ...p, port: outcome.daemon.port }));
  ctx.backend = backend;
  ctx.log.info({ mode: backend.mode, url: backend.url }, 'tray connected to the sidecar');
  ctx.refresh();
}

export async function setupDaemon(ctx: AppContext): Promise<void> {
  let ticks = 0;
  let busy = false;
  ctx.refresh = () => {
    const b = ctx.backend;
    if (!b) return;
    try {
      ctx.store.update({ ...b.read(Date.now()), phase: 'running', attached: b.mode === 'attached', url: b.url, failure: null });
    } catch (err) {
      ctx.log.warn({ err }, 'could not read the sidecar state');
    }
  };
  const tick = async () => {
    if (busy) return;
    busy = true;
    try {
      const b = ctx.backend;
      if (b?.mode === 'attached' && ++ticks % ALIVE_EVERY === 0 && !(await b.alive())) {
        // The headless daemon stopped: serve the data dir ourselves rather than leave agents stranded.
        ctx.log.info('the headless daemon went away; starting the sidecar in the app');
        ctx.backend = null;
        await b.close();
        await connect(ctx);
      }
      ctx.refresh();
    } finally {
      busy = false;
    }
  };
  const timer = setInterval(() => void tick(), TICK_MS);
  ctx.onShutdown(async () => {
    clearInterval(timer);
    const b = ctx.backend;
    ctx.backend = null;
    await b?.close();
  });
  await connect(ctx);
}
