/**
 * A stop (SIGINT or SIGTERM) asked for at any moment of a long-running
 * command's life, its start-up included. Loading the CLI is most of `serve`'s
 * start, and a signal that arrives before any handler exists ends the process
 * by the signal (no exit code, `daemon.json` and the runtime entry left
 * behind). So the bin shim catches both as its first statement
 * (bin/skillboss-sidecar.js) and hands what it caught to `main`:
 *
 * - `serve` takes them over (`StopRequest`): its own handlers are installed
 *   before the shim's are removed, so no signal falls between the two, and a
 *   stop the shim caught counts as asked for.
 * - every other command gets the signal's default action back
 *   (`releaseShimSignals`); one caught while it loaded is raised again.
 *
 * What remains uncaught is the few milliseconds before Node runs the shim's
 * first line: nothing is written to the data dir in that time.
 */

export type StopSignal = 'SIGINT' | 'SIGTERM';
const SIGNALS: readonly StopSignal[] = ['SIGINT', 'SIGTERM'];

/** What the bin shim caught while the CLI loaded. */
export interface ShimSignals {
  /** Removes the shim's handlers; the first signal they caught, if any. */
  release(): StopSignal | undefined;
}

let shim: ShimSignals | undefined;

/** `main` keeps the shim's handlers here until the command is known. */
export function adoptShimSignals(s: ShimSignals | undefined): void {
  shim = s;
}

function takeShim(): StopSignal | undefined {
  const s = shim;
  shim = undefined;
  return s?.release();
}

/** For a command that does not stop in order: the signals' default action again, and one already caught raised again. */
export function releaseShimSignals(): void {
  const caught = takeShim();
  if (caught) process.kill(process.pid, caught);
}

/**
 * The first SIGINT/SIGTERM from now on (or one the shim caught) asks for an orderly stop. After it, the
 * handlers are gone: a second signal has its default action, for a stop that hangs.
 */
export class StopRequest {
  private signal: StopSignal | undefined;
  private readonly waiters: Array<() => void> = [];
  private readonly onSignal = (sig: StopSignal): void => {
    this.dispose();
    this.ask(sig);
  };

  constructor() {
    for (const s of SIGNALS) process.on(s, this.onSignal);
    const caught = takeShim();
    if (caught) this.onSignal(caught);
  }

  /** Whether a stop has been asked for (and by which signal). */
  get asked(): StopSignal | undefined {
    return this.signal;
  }

  /** Resolves once a stop is asked for (at once if it already was). */
  wait(): Promise<StopSignal> {
    return new Promise((resolve) => {
      if (this.signal) resolve(this.signal);
      else this.waiters.push(() => resolve(this.signal!));
    });
  }

  /** Removes the handlers (the signals' default action again). */
  dispose(): void {
    for (const s of SIGNALS) process.off(s, this.onSignal);
  }

  private ask(sig: StopSignal): void {
    if (this.signal) return;
    this.signal = sig;
    for (const w of this.waiters.splice(0)) w();
  }
}
