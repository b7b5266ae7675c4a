/**
 * The import graph's rules, checked by test/unit/architecture.test.ts (and by
 * `npx depcruise proxy main renderer/src wire test`): no cycles, every import
 * pointing down the layers (one rule per layer, generated from LAYERS), and
 * each process boundary held.
 *
 * Layers, bottom up (a module imports its own layer and those below it):
 *   wire (shared shapes) → core, db → tokens, pricing, keychain, spend
 *   (holds, forecasts), anthropic (the Messages API translation) → upstream →
 *   pipeline → features (access, lifecycle, mcp, metrics) → admin → server
 *   (assembles the daemon: deps, dialects, router) → cli, simulator → main.
 * Within the pipeline, no stage imports a dialect's module: the daemon hands
 * the stages the dialect map (server/dialects.ts).
 */
/** Bottom up; each entry: the rule's name, and the folders under proxy/ in that layer. */
const LAYERS = [
  ['core-and-db-at-the-bottom', ['core', 'db']],
  ['domain-below-upstream', ['tokens', 'pricing', 'keychain', 'spend', 'anthropic']],
  ['upstream-below-pipeline', ['upstream']],
  ['pipeline-below-features', ['pipeline']],
  ['features-below-admin', ['access', 'lifecycle', 'mcp', 'metrics']],
  ['admin-below-server', ['admin']],
  ['daemon-not-to-cli', ['server']],
  ['clients-not-to-main', ['cli', 'simulator']],
];

const any = (dirs) => `^proxy/(${dirs.join('|')})/`;
/** One rule per layer: nothing in it imports a layer above it (main/, the tray, is above them all). */
const layerRules = LAYERS.map(([name, dirs], i) => ({
  name,
  comment: `proxy/{${dirs.join(',')}} import only their own layer and those below it (see LAYERS).`,
  severity: 'error',
  from: { path: any(dirs) },
  to: { path: [...(i + 1 < LAYERS.length ? [any(LAYERS.slice(i + 1).flatMap(([, d]) => d))] : []), '^main/'] },
}));

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
      name: 'pipeline-not-to-dialects',
      comment: 'The stages translate through the dialect map the daemon hands them (server/dialects.ts); adding a dialect touches no stage.',
      severity: 'error',
      from: { path: '^proxy/pipeline/' },
      to: { path: '^proxy/anthropic/' },
    },
    ...layerRules,
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^dist/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.depcruise.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.tsx', '.cts', '.js', '.cjs', '.d.ts'], conditionNames: ['import', 'require', 'node', 'default', 'types'] },
  },
};

/** For the architecture test (every folder under proxy/ is in a layer); not part of dependency-cruiser's configuration. */
Object.defineProperty(module.exports, 'layers', { value: LAYERS, enumerable: false });
