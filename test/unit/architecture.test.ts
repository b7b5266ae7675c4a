/**
 * The import graph, mechanically (dependency-cruiser, rules in
 * .dependency-cruiser.cjs): no cycles anywhere, every import pointing down
 * the layers, proxy/ and wire/ never reaching Electron, and the dashboard
 * reaching nothing but itself, wire/ and React. The second test shows each
 * rule failing on a small tree that breaks it, so a passing first test means
 * something.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CONFIG = join(ROOT, '.dependency-cruiser.cjs');
/** The layers, bottom up: each rule's name and its folders under proxy/. */
const LAYERS = (createRequire(import.meta.url)(CONFIG) as { layers: Array<[string, string[]]> }).layers;

interface Violation {
  rule: { name: string };
  from: string;
  to: string;
  cycle?: Array<{ name: string }>;
}

function cruise(cwd: string, dirs: string[]): Violation[] {
  const out = execFileSync(process.execPath, [join(ROOT, 'node_modules/dependency-cruiser/bin/dependency-cruise.mjs'), '--config', CONFIG, '--output-type', 'json', ...dirs], {
    cwd,
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  return (JSON.parse(out) as { summary: { violations: Violation[] } }).summary.violations;
}

const describeViolation = (v: Violation) => `${v.rule.name}: ${v.from} → ${v.to}${v.cycle ? ` (cycle ${v.cycle.map((c) => c.name).join(' → ')})` : ''}`;

describe('the import graph', () => {
  it('has no cycles and no import across a layer or process boundary', () => {
    expect(cruise(ROOT, ['proxy', 'main', 'renderer/src', 'wire', 'test']).map(describeViolation)).toEqual([]);
  }, 180_000);

  it('puts every folder under proxy/ in exactly one layer', () => {
    const folders = readdirSync(join(ROOT, 'proxy')).filter((f) => statSync(join(ROOT, 'proxy', f)).isDirectory());
    const layered = LAYERS.flatMap(([, dirs]) => dirs);
    expect([...layered].sort()).toEqual([...folders].sort());
    expect(new Set(layered).size).toBe(layered.length);
  });

  it('fails on an import up any layer: each layer rule, on a file of that layer importing the layer above it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sbs-layers-'));
    try {
      const files: Record<string, string> = { 'main/top.ts': 'export const top = 1;\n' };
      const expected: string[] = [];
      LAYERS.forEach(([name, dirs], i) => {
        const from = `proxy/${dirs[0]}/up.ts`;
        const above = LAYERS[i + 1];
        const to = above ? `proxy/${above[1][0]}/target.ts` : 'main/top.ts';
        files[to] ??= 'export const target = 1;\n';
        files[from] = `import { ${above ? 'target' : 'top'} } from '${'../'.repeat(2)}${to.replace(/\.ts$/, '.js')}';\nexport const up = ${above ? 'target' : 'top'};\n`;
        expected.push(`${name}: ${from} → ${to}`);
      });
      for (const [f, text] of Object.entries(files)) {
        mkdirSync(dirname(join(dir, f)), { recursive: true });
        writeFileSync(join(dir, f), text);
      }
      for (const f of ['tsconfig.base.json', 'tsconfig.depcruise.json']) copyFileSync(join(ROOT, f), join(dir, f));
      symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');
      const found = cruise(dir, ['proxy', 'main']).map((v) => `${v.rule.name}: ${v.from} → ${v.to}`);
      expect(found).toEqual(expect.arrayContaining(expected));
      expect(expected).toHaveLength(LAYERS.length);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 180_000);

  it('fails on a cycle, on proxy/ importing electron, and on the dashboard importing Node or the daemon', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sbs-graph-'));
    try {
      const files: Record<string, string> = {
        'proxy/pipeline/a.ts': "import { b } from './b.js';\nexport const a = () => b;\n",
        'proxy/pipeline/b.ts': "import { a } from './a.js';\nexport const b = () => a;\n",
        'proxy/pipeline/up.ts': "import { x } from '../admin/x.js';\nexport const up = x;\n",
        'proxy/admin/x.ts': 'export const x = 1;\n',
        'proxy/pipeline/translating.ts': "import { y } from '../anthropic/y.js';\nexport const t = y;\n",
        'proxy/anthropic/y.ts': 'export const y = 1;\n',
        'proxy/core/tray.ts': "import { app } from 'electron';\nexport const tray = app;\n",
        'renderer/src/page.ts': "import { readFileSync } from 'node:fs';\nimport { x } from '../../proxy/admin/x.js';\nexport const page = [readFileSync, x];\n",
      };
      for (const [f, text] of Object.entries(files)) {
        mkdirSync(dirname(join(dir, f)), { recursive: true });
        writeFileSync(join(dir, f), text);
      }
      for (const f of ['tsconfig.base.json', 'tsconfig.depcruise.json']) copyFileSync(join(ROOT, f), join(dir, f));
      symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');
      const found = cruise(dir, ['proxy', 'renderer/src']).map((v) => `${v.rule.name}: ${v.from} → ${v.to}`);
      expect(found).toEqual(
        expect.arrayContaining([
          'no-cycles: proxy/pipeline/a.ts → proxy/pipeline/b.ts',
          'pipeline-below-features: proxy/pipeline/up.ts → proxy/admin/x.ts',
          'pipeline-not-to-dialects: proxy/pipeline/translating.ts → proxy/anthropic/y.ts',
          expect.stringMatching(/^proxy-not-to-electron: proxy\/core\/tray.ts → .*node_modules\/electron\//),
          'renderer-only-browser: renderer/src/page.ts → fs',
          'renderer-only-browser: renderer/src/page.ts → proxy/admin/x.ts',
        ]),
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 180_000);
});
