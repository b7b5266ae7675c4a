#!/usr/bin/env -S MALLOC_ARENA_MAX=2 node --max-semi-space-size=4 --initial-old-space-size=64
// The flags size V8's heap for the daemon: with the defaults, each 400 KiB agent request's buffers start a major GC
// every ~13 requests at 8 connections (40% of the CPU, event-loop stalls of 10-60 ms); MALLOC_ARENA_MAX=2 keeps
// glibc from giving each worker thread an arena of its own (~15 MB of RSS under load). Measured in the README's
// Performance section. The bench reads both from this line, so it measures what `serve` runs.
import { existsSync } from 'node:fs';

// First of all, before the CLI loads (most of start-up): a stop asked for now is caught and kept, for `serve` to
// honour once it can; every other command gets the signals' default action back (proxy/cli/stop.ts).
let caught;
const keep = (sig) => (caught ??= sig);
process.on('SIGINT', keep).on('SIGTERM', keep);
const shimSignals = {
  release() {
    process.off('SIGINT', keep).off('SIGTERM', keep);
    return caught;
  },
};

// The CLI runs from the build: the esbuild bundle (dist/bundle, faster to start), or the plain compiled tree when only
// `tsc` has run. `npm ci` builds both (the prepare script).

const bundle = new URL('../dist/bundle/cli.js', import.meta.url);
const { main } = await import(existsSync(bundle) ? bundle.href : '../dist/proxy/cli/main.js');

await main(process.argv, shimSignals);
