/**
 * The tray app's main process: a boot list. Each setupX() is one feature in
 * its own file; the decisions they act on live in ./logic (plain, tested).
 */
import { join } from 'node:path';
import { app } from 'electron';
import { setupAutostart } from './autostart.js';
import { launchCommand } from './logic/autostart.js';
import { heapRelaunchFlags, markRelaunched, relaunchArgs } from './logic/heap.js';
import { AppContext } from './context.js';
import { setupFirstRun } from './first-run.js';
import { setupDaemon } from './host.js';
import { setupIpc } from './ipc.js';
import { setupNotifications } from './notifications.js';
import { setupQuit } from './quit.js';
import { claimSingleInstance, setupSingleInstance } from './single-instance.js';
import { setupTray } from './tray.js';
import { setupWindow } from './window.js';

// The same name and userData dir in development (`electron .`) as packaged (productName), set
// explicitly because an ESM entry may run after Electron has already derived them.
app.setName('SkillBoss Sidecar');
app.setPath('userData', join(app.getPath('appData'), 'SkillBoss Sidecar'));

// The daemon runs in this process: it needs the CLI's V8 heap sizing, which Electron takes only at start.
const heapFlags = heapRelaunchFlags({
  jsFlags: app.commandLine.hasSwitch('js-flags') ? app.commandLine.getSwitchValue('js-flags') : null,
  env: process.env,
  packaged: app.isPackaged,
});
if (heapFlags !== null) {
  markRelaunched(process.env);
  // An AppImage relaunches the image itself: its mount goes away when this process exits.
  app.relaunch({ execPath: launchCommand(process.execPath, process.env), args: relaunchArgs(process.argv.slice(1), heapFlags) });
  app.exit(0);
} else if (!claimSingleInstance()) {
  app.quit();
} else {
  const ctx = await AppContext.create(process.argv);
  setupSingleInstance(ctx);
  setupQuit(ctx);
  await app.whenReady();
  setupWindow(ctx);
  setupIpc(ctx);
  setupNotifications(ctx);
  setupTray(ctx);
  await setupDaemon(ctx);
  setupAutostart(ctx);
  setupFirstRun(ctx, process.argv);
}
