/**
 * The import graph's rules, checked by test/unit/architecture.test.ts (and by
 * `npx depcruise proxy main renderer/src wire test`): no cycles, every import
 * pointing down the layers, and each process boundary held.
 *
 * Layers, bottom up: wire (shared shapes) → core, db → tokens, pricing,
 * keychain, spend (holds, forecasts), anthropic (the Messages API
 * translation) → upstream → pipeline →
 * features (access, lifecycle, mcp, metrics) → admin, server → cli, main.
 */
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-cycles',
      comment: 'A cycle means neither module can be read, changed or tested without the other.',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'proxy-not-to-electron',
      comment: 'The daemon and CLI run under plain Node; only main/ may use Electron.',
      severity: 'error',
      from: { path: '^(proxy|wire)/' },
      to: { path: ['(^|/)node_modules/electron/', '(^|/)no-electron\\.d\\.ts$'] },
    },
    {
      name: 'renderer-only-browser',
      comment: 'The dashboard runs in a browser: it may import itself, the wire project and React, never Node or the daemon.',
      severity: 'error',
      from: { path: '^renderer/src/' },
      to: { pathNot: ['^renderer/src/', '^wire/', '^node_modules/(react|react-dom|scheduler)/'] },
    },
    {
      name: 'wire-is-pure',
      comment: 'Shapes both sides of the wire read: nothing but itself.',
      severity: 'error',
      from: { path: '^wire/' },
      to: { pathNot: '^wire/' },
    },
    {
      name: 'core-and-db-at-the-bottom',
      comment: 'core/ and db/ are what everything stands on; they import only each other and wire/.',
      severity: 'error',
      from: { path: '^proxy/(core|db)/' },
      to: { path: '^proxy/', pathNot: '^proxy/(core|db)/' },
    },
    {
      name: 'pipeline-below-features',
      comment: 'The agent pipeline imports no feature above it; the daemon hands it the features\' local routes.',
      severity: 'error',
      from: { path: '^proxy/(pipeline|tokens|pricing|keychain|spend|upstream|anthropic)/' },
      to: { path: '^proxy/(access|lifecycle|mcp|metrics|admin|server|cli|simulator)/' },
    },
    {
      name: 'pipeline-not-to-dialects',
      comment: 'The stages translate through the dialect map the daemon hands them (server/dialects.ts); adding a dialect touches no stage.',
      severity: 'error',
      from: { path: '^proxy/pipeline/' },
      to: { path: '^proxy/anthropic/' },
    },
    {
      name: 'daemon-not-to-cli',
      comment: 'The CLI drives the daemon, never the other way round.',
      severity: 'error',
      from: { path: '^proxy/', pathNot: '^proxy/cli/' },
      to: { path: '^proxy/cli/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^dist/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.depcruise.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.tsx', '.cts', '.js', '.cjs', '.d.ts'], conditionNames: ['import', 'require', 'node', 'default', 'types'] },
  },
};
