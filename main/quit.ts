/**
 * Closing the window keeps the tray (and the daemon) running; only Quit ends
 * the app, and then only after the daemon has closed its database cleanly.
 */
import { app } from 'electron';
import type { AppContext } from './context.js';

export function setupQuit(ctx: AppContext): void {
  // Having a listener at all stops Electron's default of quitting with the last window.
  app.on('window-all-closed', () => {});
  let quitting = false;
  app.on('before-quit', (event) => {
    if (quitting) return;
    event.preventDefault();
    quitting = true;
    void ctx.shutdown().finally(() => app.exit(0));
  });
}
