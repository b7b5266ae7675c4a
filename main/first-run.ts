import { launchedAtLogin } from './autostart.js';
import type { AppContext } from './context.js';
import { HIDDEN_FLAG, openWindowAtStart } from './logic/autostart.js';

/**
 * First run: with no SkillBoss key yet, the window opens on the dashboard's
 * guided setup (paste the key, create a token, point an agent at it), even
 * when launched at login. Otherwise it opens unless launched at login.
 */
export function setupFirstRun(ctx: AppContext, argv: readonly string[]): void {
  if (!ctx.backend) return;
  let needsSetup: boolean;
  try {
    needsSetup = ctx.keyStore.get() === null;
  } catch {
    needsSetup = true; // the keychain is unreachable: the setup page says what to do
  }
  if (openWindowAtStart({ argv: launchedAtLogin(argv) ? [...argv, HIDDEN_FLAG] : argv, needsSetup })) {
    void ctx.window.open(needsSetup ? 'setup' : 'overview');
  }
}
