/**
 * Start at login, when the human ticks it in the menu (off by default).
 * macOS and Windows: the OS login items; Linux: an XDG autostart entry.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { app } from 'electron';
import type { AppContext } from './context.js';
import { HIDDEN_FLAG, launchCommand, linuxAutostartPath, linuxDesktopEntry } from './logic/autostart.js';

function apply(enabled: boolean): void {
  if (process.platform === 'linux') {
    const file = linuxAutostartPath();
    if (!enabled) return rmSync(file, { force: true });
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, linuxDesktopEntry({ exec: launchCommand(process.execPath), args: [HIDDEN_FLAG] }), { mode: 0o644 });
    return;
  }
  // `args` is honoured on Windows; macOS reports a login launch through wasOpenedAtLogin instead.
  app.setLoginItemSettings({ openAtLogin: enabled, args: [HIDDEN_FLAG] });
}

export function setAutostart(ctx: AppContext, enabled: boolean): void {
  try {
    apply(enabled);
    ctx.prefs.update((p) => ({ ...p, autostart: enabled }));
    ctx.store.update({ autostart: enabled });
  } catch (err) {
    ctx.log.warn({ err }, 'could not change start at login');
  }
}

/** Whether this launch came from the login items (then the window stays closed). */
export function launchedAtLogin(argv: readonly string[]): boolean {
  return argv.includes(HIDDEN_FLAG) || (process.platform === 'darwin' && app.getLoginItemSettings().wasOpenedAtLogin);
}

/** Re-applies the saved choice, so a moved or updated app still starts at login. */
export function setupAutostart(ctx: AppContext): void {
  const { autostart } = ctx.prefs.read();
  if (autostart) setAutostart(ctx, true);
}
