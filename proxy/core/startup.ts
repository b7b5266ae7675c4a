/**
 * "Start-up is done": the daemon has answered its first agent request (or closed before one came). The code cache
 * (core/code-cache.ts) is made then, so it holds every function the path to the first served request compiled.
 */
const listeners: (() => void)[] = [];
let done = false;

/** Calls `fn` once start-up is done (at once if it already is). */
export function onStartupDone(fn: () => void): void {
  if (done) fn();
  else listeners.push(fn);
}

export function startupDone(): void {
  if (done) return;
  done = true;
  for (const fn of listeners.splice(0)) {
    try {
      fn();
    } catch {
      /* a listener's failure is its own */
    }
  }
}
