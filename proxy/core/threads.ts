/**
 * Heap sizing for the daemon's worker threads (the tokenizer pool, the
 * database maintenance worker). The daemon's `#!` flags
 * (`--max-semi-space-size=4 --initial-old-space-size=64`, bin/skillboss-sidecar.js)
 * size its own heap for the 400 KiB bodies it holds; V8 flags are the
 * process's, so every thread would inherit them too: 8 MB of new space and
 * 64 MB of old space before its first full GC, for isolates that hold an
 * encoder (~11 MB) or one SQLite connection. The flags only size an isolate
 * when it is created, so they are set back to V8's defaults once, before the
 * first thread starts; the main isolate keeps its own sizing, and a thread is
 * sized by its `resourceLimits` (measured with bench/footprint.ts, README
 * Performance).
 */
import { setFlagsFromString } from 'node:v8';
import { startupDone } from './startup.js';

let done = false;

/** Call before `new Worker(…)`: isolates created from here on are sized by V8's defaults and their resourceLimits. */
export function threadHeapDefaults(): void {
  if (done) return;
  done = true;
  // The code cache (core/code-cache.ts) is made first: one made under the changed flags would be refused next start.
  startupDone();
  setFlagsFromString('--max-semi-space-size=0');
  setFlagsFromString('--initial-old-space-size=0');
}
