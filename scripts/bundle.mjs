// Bundles the daemon and CLI (dist/proxy, compiled by tsc) into dist/bundle with esbuild (issue 27 item 4):
// - daemon.cjs and cli.cjs: each ONE CommonJS file with everything it may load (what only some requests or
//   commands need stays in lazy `__esm` wrappers, run on first use), loaded by daemon.js / cli.js through
//   proxy/core/code-cache.ts, which compiles it with a V8 code cache made after the first served request.
//   CommonJS, because only a classic script takes V8's cachedData on Node 20, and its `require('node:fs')`
//   skips the ESM facade a builtin import builds.
// - the tokenizer and maintenance workers: ESM files of their own (they start from a path, in their own isolate).
// Native modules stay external (they are .node binaries), and so do pino and its transports (they start worker
// threads from files by path) and gpt-tokenizer (only the tokenizer worker loads it).
import { createHash } from 'node:crypto';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { build } from 'esbuild';

rmSync('dist/bundle', { recursive: true, force: true });

const external = ['better-sqlite3', '@napi-rs/keyring', 'pino', 'pino-pretty', 'pino-roll', 'thread-stream', 'gpt-tokenizer', 'gpt-tokenizer/*'];
const common = { bundle: true, platform: 'node', target: 'node20', packages: 'bundle', external, logLevel: 'warning', legalComments: 'none' };

await build({
  ...common,
  entryPoints: {
    'tokenizer-worker': 'dist/proxy/pricing/tokenizer-worker.js',
    'maintenance-worker': 'dist/proxy/db/maintenance-worker.js',
    'code-cache': 'dist/proxy/core/code-cache.js',
  },
  outdir: 'dist/bundle',
  splitting: true,
  format: 'esm',
  // CommonJS dependencies bundled into ESM need a require of their own.
  banner: { js: "import { createRequire as __sbsCreateRequire } from 'node:module'; const require = __sbsCreateRequire(import.meta.url);" },
});

/**
 * Builtins that pino's files load at load time for one use later: node:worker_threads for one `isMainThread`
 * in lib/tools.js (read only when a destination stream is built; a silent logger never does), node:assert
 * for one argument check in sonic-boom (on close): each is loaded at its use instead. The exact text is
 * checked, so a pino or sonic-boom that changes it fails the build instead of silently keeping the load.
 */
const LAZY_BUILTINS = [
  {
    file: /[\\/]pino[\\/]lib[\\/]tools\.js$/,
    edits: [
      ["const { isMainThread } = require('worker_threads')\n", ''],
      ['  if (!opts.sync && isMainThread) {', "  if (!opts.sync && require('worker_threads').isMainThread) {"],
    ],
    uses: { isMainThread: 1 },
  },
  { file: /[\\/]sonic-boom[\\/]index\.js$/, edits: [["const assert = require('assert')\n", "const assert = (value, message) => require('assert')(value, message)\n"]] },
];
const lazyBuiltinsInPino = {
  name: 'lazy-builtins-in-pino',
  setup(b) {
    const patched = new Set();
    for (const entry of LAZY_BUILTINS) {
      b.onLoad({ filter: entry.file }, ({ path }) => {
        let text = readFileSync(path, 'utf8');
        for (const [from, to] of entry.edits) {
          if (!text.includes(from)) throw new Error(`${path} no longer has ${JSON.stringify(from)}: update scripts/bundle.mjs`);
          text = text.replace(from, to);
        }
        // A name the edits took the declaration of must have no other use left (it would throw at run time).
        for (const [name, uses] of Object.entries(entry.uses ?? {})) {
          const n = text.match(new RegExp(`\\b${name}\\b`, 'g'))?.length ?? 0;
          if (n !== uses) throw new Error(`${path} uses ${name} ${n} times after the edits, not ${uses}: update scripts/bundle.mjs`);
        }
        patched.add(entry);
        return { contents: text, loader: 'js' };
      });
    }
    // A file that moved would otherwise go unpatched in silence.
    b.onEnd((result) => {
      if (result.errors.length > 0) return;
      const missed = LAZY_BUILTINS.filter((e) => !patched.has(e));
      if (missed.length > 0) throw new Error(`scripts/bundle.mjs patched no file matching ${missed.map((e) => e.file).join(', ')}: update it`);
    });
  },
};

/** The loaders: what `import('dist/bundle/daemon.js')` (the bench, scripts) and bin/ (cli.js) get. */
const loaders = {
  daemon: { exports: ['startDaemon'], role: "'daemon'" },
  // `serve` runs other functions than the rest of the CLI, so it keeps a cache of its own.
  cli: { exports: ['main'], role: "process.argv[2] === 'serve' ? 'cli-serve' : 'cli'" },
};
await build({
  ...common,
  // pino itself is bundled here (its ~20 files would each be resolved, read and compiled at start, outside the code
  // cache); the sidecar uses no pino transports, the part that starts workers from files by path (thread-stream).
  // thread-stream (pino's transports) is a stub that throws, so it is not loaded at every start for nothing.
  // better-sqlite3's JavaScript is bundled too (db/database.ts hands it its addon by path; `bindings` stays out).
  // express (the admin app, loaded on its first request) and prom-client (/metrics, when enabled) stay in
  // node_modules: with their dependencies they were 1.1 MB of the daemon's 2.2 MB, read at every start on
  // this machine at ~7 ms a MB, for code a start never runs.
  external: [...external.filter((e) => e !== 'pino' && e !== 'thread-stream' && e !== 'better-sqlite3'), 'bindings', 'express', 'prom-client'],
  alias: { 'thread-stream': './scripts/no-thread-stream.cjs' },
  plugins: [lazyBuiltinsInPino],
  entryPoints: { daemon: 'dist/proxy/server/daemon.js', cli: 'dist/proxy/cli/main.js' },
  outdir: 'dist/bundle',
  outExtension: { '.js': '.cjs' },
  format: 'cjs',
  // import() of an external (gpt-tokenizer) becomes require(): a vm.Script run from a code cache has no dynamic
  // import callback ("A dynamic import callback was not specified").
  supported: { 'dynamic-import': false },
  charset: 'ascii',
  // import.meta.url (worker paths, package.json, the dashboard's files) is the .cjs file's, beside the chunks it replaced.
  define: { 'import.meta.url': '__sbsImportMetaUrl' },
  banner: { js: "var __sbsImportMetaUrl = require('node:url').pathToFileURL(__filename).href;" },
});
for (const [name, { exports, role }] of Object.entries(loaders)) {
  // charset 'ascii' escapes every string, template and regular expression, so what is left outside ASCII is in
  // comments: made '?', the file is ASCII, read as latin1 without a UTF-8 decode (~15 ms for 2.7 MB on Node 20).
  const text = readFileSync(`dist/bundle/${name}.cjs`, 'utf8').replace(/[^\x00-\x7f]/g, '?');
  if (/(^|[\s(=,;!:?&|])import\(["'`]/m.test(text)) throw new Error(`dist/bundle/${name}.cjs has an import(), which a cached vm.Script cannot run`);
  writeFileSync(`dist/bundle/${name}.cjs`, text);
  const source = Buffer.from(text, 'latin1');
  const buildId = createHash('sha256').update(source).digest('hex').slice(0, 16);
  writeFileSync(
    `dist/bundle/${name}.js`,
    `// Generated by scripts/bundle.mjs: runs ${name}.cjs with a V8 code cache (proxy/core/code-cache.ts).\n` +
      `import { loadBundle } from './code-cache.js';\n` +
      `const loaded = loadBundle(new URL('./${name}.cjs', import.meta.url), { role: ${role}, buildId: '${buildId}', encoding: 'latin1' });\n` +
      `/** What this start made of the code cache (the tests read it): 'hit', 'miss', 'rejected' or 'off', and its file. */\n` +
      `export const codeCache = { state: loaded.cache, file: loaded.cacheFile };\n` +
      exports.map((e) => `export const ${e} = loaded.exports.${e};\n`).join(''),
  );
}
