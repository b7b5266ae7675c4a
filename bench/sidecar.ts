/**
 * Runs the real sidecar daemon for the benchmark: `startDaemon` from the
 * compiled tree, on the given data dir (real SQLite), with the upstream key in
 * a memory key store (the OS keychain is not what is being measured). Tokens
 * are created by the caller before this starts, so a cold start measures only
 * what `skillboss-sidecar serve` does. On SIGTERM it closes the daemon and
 * exits normally, which is when `node --cpu-prof` writes its profile.
 * Environment: BENCH_DATA_DIR, BENCH_UPSTREAM_URL (…/v1), BENCH_UPSTREAM_KEY.
 */
import { memoryKeyStore } from '../proxy/keychain/store.js';
import { startDaemon } from '../proxy/server/daemon.js';
import { announce, watchLoopDelay } from './common.js';

function env(name: string): string {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
}

const daemon = await startDaemon({
  dataDir: env('BENCH_DATA_DIR'),
  upstreamUrl: env('BENCH_UPSTREAM_URL'),
  keyStore: memoryKeyStore(env('BENCH_UPSTREAM_KEY')),
  port: 0,
});
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
