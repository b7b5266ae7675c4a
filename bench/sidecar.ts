/**
 * Runs the real sidecar daemon for the benchmark: `startDaemon` from the
 * esbuild bundle that `serve` runs (dist/bundle/daemon.js; BENCH_DAEMON=tsc
 * takes the unbundled dist/proxy instead, to compare), on the given data dir
 * (real SQLite), with the upstream key in memory (the OS keychain is not what
 * is being measured). Tokens are created by the caller before this starts, so
 * a cold start measures only what `skillboss-sidecar serve` does. On SIGTERM
 * it closes the daemon and exits normally, which is when `node --cpu-prof`
 * writes its profile.
 * Environment: BENCH_DATA_DIR, BENCH_UPSTREAM_URL (…/v1), BENCH_UPSTREAM_KEY, BENCH_DAEMON (bundle|tsc).
 */
import { existsSync } from 'node:fs';
import type { KeyStore } from '../proxy/keychain/store.js';
import type * as DaemonModule from '../proxy/server/daemon.js';
import { announce, watchLoopDelay } from './common.js';

function env(name: string): string {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
}

const bundled = new URL('../bundle/daemon.js', import.meta.url);
const useBundle = process.env.BENCH_DAEMON !== 'tsc' && existsSync(bundled);
const { startDaemon } = (await import(useBundle ? bundled.href : '../proxy/server/daemon.js')) as typeof DaemonModule;

let key: string | null = env('BENCH_UPSTREAM_KEY');
const keyStore: KeyStore = {
  kind: 'memory',
  get: () => key,
  set(k) {
    key = k;
  },
  remove() {
    const had = key !== null;
    key = null;
    return had;
  },
};

const daemon = await startDaemon({ dataDir: env('BENCH_DATA_DIR'), upstreamUrl: env('BENCH_UPSTREAM_URL'), keyStore, port: 0 });
watchLoopDelay();
announce(daemon.url);

let stopping = false;
const stop = () => {
  if (stopping) return;
  stopping = true;
  daemon.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
