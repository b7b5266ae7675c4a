/**
 * One app per user: a second launch (the human double-clicks the icon again)
 * quits at once and only brings the dashboard forward in the first one.
 */
import { app } from 'electron';
import type { AppContext } from './context.js';

/** Claimed before anything else happens; false when another instance already runs (the caller then quits). */
export function claimSingleInstance(): boolean {
  return app.requestSingleInstanceLock();
}

export function setupSingleInstance(ctx: AppContext): void {
  app.on('second-instance', () => void ctx.window?.open('overview'));
}
