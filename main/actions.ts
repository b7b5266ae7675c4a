/** What each tray menu item does (the menu itself only names ActionIds). */
import { app, clipboard, dialog } from 'electron';
import { setAutostart } from './autostart.js';
import type { AppContext } from './context.js';
import { runChecks, summarize } from './logic/doctor.js';
import { baseUrlOf, type ActionId } from './logic/menu.js';

async function checkForProblems(ctx: AppContext): Promise<void> {
  const b = ctx.backend;
  const checks = b
    ? await runChecks({ url: b.url, dataDir: ctx.dataDir, db: b.db, keyStore: ctx.keyStore, now: Date.now(), resync: () => b.resync() })
    : [{ name: 'daemon', ok: false, detail: ctx.store.get().failure ?? 'not running; quit and reopen the app' }];
  const s = summarize(checks);
  await dialog.showMessageBox({ type: s.ok ? 'info' : 'warning', title: 'SkillBoss Sidecar', message: s.title, detail: s.detail, buttons: ['OK'] });
}

function setPaused(ctx: AppContext, paused: boolean): void {
  ctx.backend?.setPaused(paused, Date.now());
  ctx.refresh();
}

export function runAction(ctx: AppContext, action: ActionId): void {
  const fail = (err: unknown) => ctx.log.error({ err, action }, 'tray action failed');
  try {
    switch (action) {
      case 'copy-base-url': {
        const url = baseUrlOf(ctx.store.get());
        if (url) clipboard.writeText(url);
        return;
      }
      case 'set-key':
        return void ctx.window.open('setup').catch(fail);
      case 'new-token':
        return void ctx.window.open('new-token').catch(fail);
      case 'open-dashboard':
        return void ctx.window.open('overview').catch(fail);
      case 'pause':
        return setPaused(ctx, true);
      case 'resume':
        return setPaused(ctx, false);
      case 'check':
        return void checkForProblems(ctx).catch(fail);
      case 'toggle-autostart':
        return setAutostart(ctx, !ctx.store.get().autostart);
      case 'quit':
        return app.quit();
    }
  } catch (err) {
    fail(err);
  }
}
