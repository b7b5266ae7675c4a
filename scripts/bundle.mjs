// Bundles the daemon and CLI (dist/proxy, compiled by tsc) into dist/bundle with esbuild: one file
// per entry plus shared chunks, instead of ~150 modules resolved and read one by one at start-up.
// Native modules stay external (they are .node binaries), and so do pino and its transports (they
// start worker threads from files by path) and what only other commands load.
import { rmSync } from 'node:fs';
import { build } from 'esbuild';

rmSync('dist/bundle', { recursive: true, force: true });

await build({
  entryPoints: {
    cli: 'dist/proxy/cli/main.js',
    daemon: 'dist/proxy/server/daemon.js',
    'tokenizer-worker': 'dist/proxy/pricing/tokenizer-worker.js',
    'maintenance-worker': 'dist/proxy/db/maintenance-worker.js',
  },
  outdir: 'dist/bundle',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  packages: 'bundle',
  external: ['better-sqlite3', '@napi-rs/keyring', 'pino', 'pino-pretty', 'pino-roll', 'thread-stream', 'gpt-tokenizer', 'gpt-tokenizer/*'],
  // CommonJS dependencies bundled into ESM need a require of their own.
  banner: { js: "import { createRequire as __sbsCreateRequire } from 'node:module'; const require = __sbsCreateRequire(import.meta.url);" },
  logLevel: 'warning',
  legalComments: 'none',
});
